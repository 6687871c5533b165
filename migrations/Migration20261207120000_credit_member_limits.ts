import { Migration } from '@mikro-orm/migrations';

/**
 * Members' monthly credit limits (issue 17, item 4; docs/credits.md "Members' limits"; ADR 0025 "Member limits"):
 * the limit an account's admins set per member, and what each member's settled work used per calendar month.
 * What a member holds is read from `credit_hold` (its `member_id`), so no column of it here.
 */
export class Migration20261207120000_credit_member_limits extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "credit_member_limit" ("account_id" varchar(255) not null, "member_id" varchar(128) not null, "monthly_credits" bigint not null, "updated_at" timestamptz not null, "updated_by" varchar(255) not null, constraint "credit_member_limit_pkey" primary key ("account_id", "member_id"), constraint credit_member_limit_monthly_credits_check check (monthly_credits >= 0));`);

    this.addSql(`create table "credit_member_period" ("account_id" varchar(255) not null, "member_id" varchar(128) not null, "period_start" timestamptz not null, "burned" bigint not null default 0, "updated_at" timestamptz not null, constraint "credit_member_period_pkey" primary key ("account_id", "member_id", "period_start"), constraint credit_member_period_burned_check check (burned >= 0));`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "credit_member_limit" cascade;`);

    this.addSql(`drop table if exists "credit_member_period" cascade;`);
  }

}
