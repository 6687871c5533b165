import { Migration } from '@mikro-orm/migrations';

/**
 * When the customer's bank asked to approve an invoice's payment (3-D Secure, `invoice.payment_action_required`):
 * an open invoice with it is the account's pending authentication (docs/integration-frontend.md).
 */
export class Migration20261206040000_invoice_action_required extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "invoice" add column "action_required_at" timestamptz null;`);
    // Partial: only invoices that ever waited for an authentication, for the pending action of each account.
    this.addSql(`create index "invoice_action_required_index" on "invoice" ("account_id", "stripe_created_at") where "action_required_at" is not null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "invoice_action_required_index";`);
    this.addSql(`alter table "invoice" drop column "action_required_at";`);
  }
}
