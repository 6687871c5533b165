import { Migration } from '@mikro-orm/migrations';

/**
 * Fewer units of an add-on from the period end on (ADR 0024, docs/billing-rules.md row 50): what the customer paid for
 * stays until then, as for seats; the schedule's next phase carries the lower quantity.
 */
export class Migration20261206113000_addon_units_at_period_end extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "subscription" add column "addon_units_at_period_end" jsonb not null default '{}';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "subscription" drop column "addon_units_at_period_end";`);
  }
}
