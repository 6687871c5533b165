import { Migration } from '@mikro-orm/migrations';

export class Migration20261127055731 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "billing_customer" add column "change_locked_until" timestamptz null;`);

    this.addSql(`alter table "subscription" add column "ended_at" timestamptz null, add column "schedule_id" varchar(255) null, add column "scheduled_plan_key" varchar(64) null, add column "scheduled_interval" "billing_interval" null, add column "scheduled_change_at" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "billing_customer" drop column "change_locked_until";`);

    this.addSql(`alter table "subscription" drop column "ended_at", drop column "schedule_id", drop column "scheduled_plan_key", drop column "scheduled_interval", drop column "scheduled_change_at";`);
  }

}
