import { Migration } from '@mikro-orm/migrations';

export class Migration20261205032812_overage_retries extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "usage_counter" add column "overage_pending_timestamp" timestamptz null, add column "overage_pending_since" timestamptz null, add column "overage_attempts" int not null default 0, add column "overage_next_attempt_at" timestamptz null;`);
    this.addSql(`create index "usage_counter_overage_pending_since_index" on "usage_counter" ("overage_pending_since");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "usage_counter_overage_pending_since_index";`);
    this.addSql(`alter table "usage_counter" drop column "overage_pending_timestamp", drop column "overage_pending_since", drop column "overage_attempts", drop column "overage_next_attempt_at";`);
  }

}
