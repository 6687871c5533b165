import { Migration } from '@mikro-orm/migrations';

/** The mail outbox (`Notification`): written by hand, not generated, so it holds only this table. */
export class Migration20261127061500_notifications extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "notification" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "account_id" varchar(255) not null, "kind" varchar(32) not null, "recipient" varchar(320) not null, "data" jsonb not null, "dedupe_key" varchar(255) not null, "status" varchar(16) not null default 'pending', "attempts" int not null default 0, "next_attempt_at" timestamptz not null, "last_error" text null, "sent_at" timestamptz null, constraint "notification_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "notification" add constraint "notification_dedupe_key_unique" unique ("dedupe_key");`,
    );
    this.addSql(
      `create index "notification_account_id_created_at_index" on "notification" ("account_id", "created_at");`,
    );
    // The mail worker's pick query: status in ('pending', 'sending') and next_attempt_at <= now().
    this.addSql(
      `create index "notification_status_next_attempt_at_index" on "notification" ("status", "next_attempt_at");`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "notification" cascade;`);
  }
}
