import { Migration } from '@mikro-orm/migrations';

/** Automatic top-up of credits (issue 17, docs/credits.md "Automatic top-up"): one row per account that set it. */
export class Migration20261207130000_credit_auto_top_up extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "credit_auto_top_up" ("account_id" varchar(255) not null, "enabled" boolean not null default false, "below_credits" bigint not null, "pack_key" varchar(64) not null, "armed" boolean not null default true, "charging_since" timestamptz null, "attempt" int not null default 0, "last_failure" varchar(255) null, "last_failure_at" timestamptz null, "updated_at" timestamptz not null, constraint "credit_auto_top_up_pkey" primary key ("account_id"), constraint credit_auto_top_up_below_check check (below_credits > 0));`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "credit_auto_top_up" cascade;`);
  }
}
