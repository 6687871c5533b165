import { Migration } from '@mikro-orm/migrations';

/**
 * A plan change waiting for its invoice to be paid (Stripe's `pending_update`: an upgrade whose prorated charge the
 * bank asks to approve): the plan and interval it moves to, and when Stripe discards it (ADR 0022).
 */
export class Migration20261206090000_subscription_pending_change extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "subscription" add column "pending_plan_key" varchar(64) null, add column "pending_interval" "billing_interval" null, add column "pending_change_expires_at" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "subscription" drop column "pending_plan_key", drop column "pending_interval", drop column "pending_change_expires_at";`);
  }
}
