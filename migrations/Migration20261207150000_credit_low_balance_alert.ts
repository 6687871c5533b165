import { Migration } from '@mikro-orm/migrations';

/**
 * The low-balance mail (issue 17, docs/credits.md "Low-balance mail"): one row per account that set a threshold or
 * crossed one (the plan's default needs no row until then).
 */
export class Migration20261207150000_credit_low_balance_alert extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "credit_low_balance_alert" ("account_id" varchar(255) not null, "below_credits" bigint null, "armed" boolean not null default true, "crossings" int not null default 0, "updated_at" timestamptz not null, constraint "credit_low_balance_alert_pkey" primary key ("account_id"), constraint credit_low_balance_alert_below_check check (below_credits >= 0));`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "credit_low_balance_alert" cascade;`);
  }
}
