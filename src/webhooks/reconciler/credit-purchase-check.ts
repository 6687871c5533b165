import type Stripe from 'stripe';
import type { Orm } from '../../database/database';
import type { Logger } from '../../logging/logger';
import type { CreditPackInvoices } from '../../services/credits/credit-pack-invoices';
import { packInvoiceOf } from '../../services/credits/credit-pack-sale';
import { idOf } from '../../services/stripe/expandable';
import type { StripeClient } from '../../services/stripe/stripe-client';
import { listAll } from '../../services/stripe/all-pages';

/** How far back the check looks: paid pack invoices created, and purchase lots granted, within it. */
export const CREDIT_CHECK_WINDOW_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;

/** What one check found. */
export interface CreditPurchaseCheckSummary {
  /** Paid pack invoices Stripe lists in the window. */
  paidInvoices: number;
  /** Paid pack invoices that had no grant (their `invoice.paid` was lost): granted now. */
  granted: string[];
  /** Purchase lots whose invoice is not paid in Stripe: logged for a person to look at, never removed here. */
  withoutPaidInvoice: string[];
}

/**
 * Checks the ledger's purchases against Stripe's payments (issue 17, item 6), both ways: every paid credit pack
 * invoice of the window has its grant (a missing one is granted, through the same idempotent path as
 * `invoice.paid`), and every purchase lot of the window has a paid invoice (one that has not is logged as an error:
 * credits without money is a bug to look at, not something to take back automatically).
 */
export class CreditPurchaseCheck {
  constructor(
    private readonly orm: Orm,
    private readonly stripe: StripeClient,
    private readonly packInvoices: CreditPackInvoices,
    private readonly logger: Logger,
  ) {}

  async run(now: Date): Promise<CreditPurchaseCheckSummary> {
    const since = new Date(now.getTime() - CREDIT_CHECK_WINDOW_DAYS * DAY_MS);
    const paid = await this.paidPackInvoices(since);
    const owners = await this.ownersOf(paid);
    const granted: string[] = [];
    for (const invoice of paid) {
      const accountId = owners.get(idOf(invoice.customer) ?? '');
      if (!accountId) continue;
      const grant = await this.packInvoices.grantPaid(invoice, accountId);
      if (grant && !grant.duplicate) granted.push(invoice.id as string);
    }
    if (granted.length > 0)
      this.logger.warn({ invoices: granted }, 'paid credit pack invoices had no grant: granted now');
    const withoutPaidInvoice = await this.lotsWithoutPaidInvoice(
      since,
      new Set(paid.map((invoice) => invoice.id as string)),
    );
    if (withoutPaidInvoice.length > 0)
      this.logger.error(
        { invoices: withoutPaidInvoice },
        'credit purchase lots without a paid Stripe invoice',
      );
    return { paidInvoices: paid.length, granted, withoutPaidInvoice };
  }

  private async paidPackInvoices(since: Date): Promise<Stripe.Invoice[]> {
    const created = Math.floor(since.getTime() / 1000);
    const listed = await listAll((startingAfter) =>
      this.stripe.call('invoices.list', (sdk) =>
        sdk.invoices.list({
          status: 'paid',
          created: { gte: created },
          limit: 100,
          starting_after: startingAfter,
        }),
      ),
    );
    if (!listed.complete)
      this.logger.warn({ since }, 'credit purchase check: the invoice list was cut short');
    return listed.items.filter((invoice) => packInvoiceOf(invoice.metadata) !== null);
  }

  /** The account of each invoice's Stripe customer (only customers linked to an account). */
  private async ownersOf(invoices: Stripe.Invoice[]): Promise<Map<string, string>> {
    const customerIds = [...new Set(invoices.map((invoice) => idOf(invoice.customer) ?? ''))];
    if (customerIds.length === 0) return new Map();
    const rows = await this.orm.em
      .getConnection()
      .execute<Array<{ account_id: string; stripe_customer_id: string }>>(
        'select account_id, stripe_customer_id from billing_customer where stripe_customer_id in (?)',
        [customerIds],
      );
    return new Map(rows.map((row) => [row.stripe_customer_id, row.account_id]));
  }

  /** Purchase lots of the window whose invoice is neither among the paid ones listed nor paid when read alone. */
  private async lotsWithoutPaidInvoice(since: Date, paidIds: ReadonlySet<string>): Promise<string[]> {
    const lots = await this.orm.em.getConnection().execute<Array<{ source_id: string }>>(
      `select source_id from credit_lot
          where kind = 'purchase' and source_type = 'stripe_invoice' and created_at >= ?`,
      [since],
    );
    const unpaid: string[] = [];
    for (const { source_id: invoiceId } of lots) {
      if (paidIds.has(invoiceId)) continue;
      const invoice = await this.stripe.call('invoices.retrieve', (sdk) => sdk.invoices.retrieve(invoiceId));
      if (invoice.status !== 'paid') unpaid.push(invoiceId);
    }
    return unpaid;
  }
}
