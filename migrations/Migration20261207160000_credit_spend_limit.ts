import { Migration } from '@mikro-orm/migrations';

/**
 * Credits beyond the balance and the spend limit over them (issue 17 item 4; docs/credits.md "Overage and the spend
 * limit"; ADR 0027): the account's limit and the overage its live holds keep on the balance row every change locks;
 * the part of a hold the balance did not cover; what each settle billed (an entry's `billed`, the rest of its
 * `uncovered` written off); and per usage period what was billed as overage and charged as automatic top-ups, with
 * the last spend alert sent (80 or 100 %), so an alert goes out once per period.
 */
export class Migration20261207160000_credit_spend_limit extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "credit_balance" add column "spend_limit_cents" bigint null, add column "overage_held" bigint not null default 0, add constraint credit_balance_overage_held_check check (overage_held >= 0), add constraint credit_balance_spend_limit_cents_check check (spend_limit_cents >= 0);`,
    );
    this.addSql(
      `alter table "credit_hold" add column "overage_credits" bigint not null default 0, add constraint credit_hold_overage_credits_check check (overage_credits >= 0 and overage_credits <= credits);`,
    );
    this.addSql(`alter table "credit_ledger_entry" add column "billed" bigint not null default 0;`);
    this.addSql(
      `create table "credit_spend" ("account_id" varchar(255) not null, "period_start" timestamptz not null, "period_end" timestamptz not null, "overage_credits" bigint not null default 0, "top_up_cents" bigint not null default 0, "alerted_percent" smallint not null default 0, "updated_at" timestamptz not null, constraint "credit_spend_pkey" primary key ("account_id", "period_start"), constraint credit_spend_overage_credits_check check (overage_credits >= 0), constraint credit_spend_top_up_cents_check check (top_up_cents >= 0));`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "credit_spend" cascade;`);
    this.addSql(`alter table "credit_ledger_entry" drop column "billed";`);
    this.addSql(`alter table "credit_hold" drop constraint credit_hold_overage_credits_check, drop column "overage_credits";`);
    this.addSql(
      `alter table "credit_balance" drop constraint credit_balance_overage_held_check, drop constraint credit_balance_spend_limit_cents_check, drop column "spend_limit_cents", drop column "overage_held";`,
    );
  }
}
