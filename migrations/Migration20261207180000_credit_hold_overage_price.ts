import { Migration } from '@mikro-orm/migrations';

/**
 * What a hold's part beyond the balance was admitted at (issue 17, ADR 0027): the `ai_credits` price per credit and
 * its currency when it was held, so its commit bills it even when the terms changed during the call (a plan change,
 * a subscription turned past due): the work was admitted under those terms.
 */
export class Migration20261207180000_credit_hold_overage_price extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "credit_hold" add column "overage_price" varchar(32) null, add column "overage_currency" varchar(3) null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "credit_hold" drop column "overage_price", drop column "overage_currency";`);
  }
}
