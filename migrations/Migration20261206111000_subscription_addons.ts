import { Migration } from '@mikro-orm/migrations';

/**
 * Add-ons beside the plan (ADR 0024): the subscription's add-on items as synced from Stripe, and the add-ons the
 * customer removed, which stay until the period end.
 */
export class Migration20261206111000_subscription_addons extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "subscription" add column "addons" jsonb not null default '[]', add column "addon_removals" jsonb not null default '[]';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "subscription" drop column "addons", drop column "addon_removals";`);
  }
}
