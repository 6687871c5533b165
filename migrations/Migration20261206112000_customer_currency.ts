import { Migration } from '@mikro-orm/migrations';

/**
 * The currency an account pays in, chosen once and kept (ADR 0024, docs/billing-rules.md rows 53–55). Accounts
 * that already have a subscription were all billed in the catalog's one currency until now, so they keep USD; the
 * others choose when they first subscribe.
 */
export class Migration20261206112000_customer_currency extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "billing_customer" add column "currency" varchar(3) null;`);
    this.addSql(`update "billing_customer" c set "currency" = 'usd' where exists (select 1 from "subscription" s where s."account_id" = c."account_id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "billing_customer" drop column "currency";`);
  }
}
