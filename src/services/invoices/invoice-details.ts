import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { Invoice, LIVE_STATUSES, Subscription } from '../../entities';
import { BillingError } from '../../errors';
import type { StripeClient } from '../stripe/stripe-client';
import type { InvoiceCredits } from './invoice-credits';
import { figuresOf, type InvoiceFigures } from './invoice-lines';
import type { InvoiceTaxes, InvoiceTaxSummary } from '../tax/invoice-taxes';

/** The next bill: Stripe's preview of the live subscription's next invoice. */
export interface UpcomingInvoiceView extends InvoiceFigures, InvoiceTaxSummary {
  /** When Stripe will charge it (or send it): the period end, or the trial end while trialing. */
  date: Date | null;
  periodStart: Date;
  periodEnd: Date;
}

/** An issued invoice in full: what our row holds, with Stripe's lines and totals. */
export interface InvoiceDetailsView extends InvoiceFigures, InvoiceTaxSummary {
  row: Invoice;
  amountPaid: number;
  amountRemaining: number;
  dueDate: Date | null;
  attemptCount: number;
  nextPaymentAttempt: Date | null;
  /** Σ of the invoice's credit notes issued after payment (refunds, credits to the balance, out of band). */
  creditedAfterPayment: number;
  creditNotes: CreditNoteView[];
}

/** A credit note of an invoice: what was given back, and where. Minor units of the invoice's currency. */
export interface CreditNoteView {
  id: string;
  number: string;
  amount: number;
  refundedToCard: number;
  creditedToBalance: number;
  outOfBand: number;
  reason: string | null;
  status: string;
  pdf: string;
  createdAt: Date;
}

/** Finalized invoices whose lines are kept in memory: a finalized invoice's lines never change. */
const CACHED_INVOICES = 500;

/**
 * Invoices in full and the next bill, read from Stripe when asked (docs/integration-frontend.md, "Invoices"):
 * our table keeps each invoice's summary for the paginated history; the lines are fetched on demand, all pages
 * of them, and the lines of a finalized invoice (which Stripe never changes: https://docs.stripe.com/invoicing/
 * overview#finalized) are cached in memory. Amounts paid, attempts and credit notes are always read fresh.
 */
export class InvoiceDetails {
  private readonly linesCache = new Map<string, Stripe.InvoiceLineItem[]>();

  constructor(
    private readonly stripe: StripeClient,
    private readonly credits: InvoiceCredits,
    private readonly taxes: InvoiceTaxes,
  ) {}

  /** The account's live subscription's next invoice, as Stripe previews it; null without a live subscription. */
  async upcoming(em: EntityManager, accountId: string): Promise<UpcomingInvoiceView | null> {
    const subscription = await em.findOne(
      Subscription,
      { accountId, status: { $in: [...LIVE_STATUSES] } },
      { orderBy: { createdAt: 'desc' } },
    );
    if (!subscription) return null;
    let preview: Stripe.Invoice;
    try {
      preview = await this.stripe.call('invoices.createPreview', (sdk) =>
        // Stripe previews with the subscription's own automatic tax: the next bill as it will be charged. A
        // change waiting for the period end (seats or add-ons removed, a downgrade) is a schedule's next phase:
        // previewing the schedule bills what the renewal will ("The identifier of the schedule whose upcoming
        // invoice you'd like to retrieve", https://docs.stripe.com/api/invoices/create_preview).
        sdk.invoices.createPreview(
          subscription.scheduleId
            ? { schedule: subscription.scheduleId }
            : { subscription: subscription.stripeSubscriptionId },
        ),
      );
    } catch (error) {
      // A subscription that will bill nothing more (cancelled at the period end, nothing pending).
      if (error instanceof BillingError && error.extensions.stripeCode === 'invoice_upcoming_none')
        return null;
      throw error;
    }
    // A preview has no id to list more lines by: its first page is what Stripe answers (a subscription of ours
    // has a plan line, a line per metered price and any prorations, well under the page of ten).
    const lines = preview.lines.data;
    const date = subscription.status === 'trialing' ? subscription.trialEnd : subscription.currentPeriodEnd;
    return {
      ...figuresOf(preview, lines),
      ...(await this.taxes.summaryOf(preview)),
      date: preview.next_payment_attempt ? new Date(preview.next_payment_attempt * 1000) : date,
      periodStart: new Date(preview.period_start * 1000),
      periodEnd: new Date(preview.period_end * 1000),
    };
  }

  /** One of the account's invoices in full; null when the account has no invoice with this id. */
  async ofInvoice(
    em: EntityManager,
    accountId: string,
    stripeInvoiceId: string,
  ): Promise<InvoiceDetailsView | null> {
    const row = await em.findOne(Invoice, { stripeInvoiceId, accountId });
    if (!row) return null;
    const invoice = await this.stripe.call('invoices.retrieve', (sdk) =>
      sdk.invoices.retrieve(stripeInvoiceId),
    );
    const [lines, notes, taxes] = await Promise.all([
      this.linesOf(invoice),
      this.credits.creditNotesOf(stripeInvoiceId),
      this.taxes.summaryOf(invoice),
    ]);
    return {
      ...figuresOf(invoice, lines),
      ...taxes,
      row,
      amountPaid: invoice.amount_paid,
      amountRemaining: invoice.amount_remaining,
      dueDate: toDate(invoice.due_date),
      attemptCount: invoice.attempt_count,
      nextPaymentAttempt: toDate(invoice.next_payment_attempt),
      creditedAfterPayment: invoice.post_payment_credit_notes_amount,
      creditNotes: notes.map(creditNoteOf),
    };
  }

  /**
   * The client secret of the payment Stripe made for an open invoice, for a page that confirms it with Stripe.js
   * (Elements) instead of sending the browser to the hosted invoice page. Stripe includes the invoice's
   * `confirmation_secret` only when it is expanded ("The confirmation secret associated with this invoice. Currently,
   * this contains the client_secret of the PaymentIntent that Stripe creates during invoice finalization",
   * https://docs.stripe.com/api/invoices/object#invoice_object-confirmation_secret); null once the invoice is no
   * longer open (paid or voided: nothing is left to confirm).
   */
  async clientSecretOf(stripeInvoiceId: string): Promise<string | null> {
    const invoice = await this.stripe.call('invoices.retrieve', (sdk) =>
      sdk.invoices.retrieve(stripeInvoiceId, { expand: ['confirmation_secret'] }),
    );
    if (invoice.status !== 'open') return null;
    return invoice.confirmation_secret?.client_secret ?? null;
  }

  /**
   * Every line: the invoice carries its first page (ten), `GET /v1/invoices/:id/lines` the rest
   * (https://docs.stripe.com/api/invoices/invoice_lines).
   */
  private async linesOf(invoice: Stripe.Invoice): Promise<Stripe.InvoiceLineItem[]> {
    const cached = this.linesCache.get(invoice.id as string);
    if (cached) return cached;
    const lines = [...invoice.lines.data];
    for (let more = invoice.lines.has_more; more; ) {
      const page = await this.stripe.call('invoices.listLineItems', (sdk) =>
        sdk.invoices.listLineItems(invoice.id as string, { limit: 100, starting_after: lines.at(-1)?.id }),
      );
      lines.push(...page.data);
      more = page.has_more && page.data.length > 0;
    }
    if (invoice.status !== 'draft') this.remember(invoice.id as string, lines);
    return lines;
  }

  private remember(invoiceId: string, lines: Stripe.InvoiceLineItem[]): void {
    if (this.linesCache.size >= CACHED_INVOICES) {
      const [oldest] = this.linesCache.keys();
      if (oldest) this.linesCache.delete(oldest);
    }
    this.linesCache.set(invoiceId, lines);
  }
}

function creditNoteOf(note: Stripe.CreditNote): CreditNoteView {
  const refundedToCard = (note.refunds ?? []).reduce((total, refund) => total + refund.amount_refunded, 0);
  const outOfBand = note.out_of_band_amount ?? 0;
  return {
    id: note.id,
    number: note.number,
    amount: note.total,
    refundedToCard,
    // What is neither refunded nor outside Stripe went to the balance (the credit note's `credit_amount`).
    creditedToBalance: Math.max(0, note.post_payment_amount - refundedToCard - outOfBand),
    outOfBand,
    reason: note.reason,
    status: note.status,
    pdf: note.pdf,
    createdAt: new Date(note.created * 1000),
  };
}

function toDate(seconds: number | null): Date | null {
  return seconds ? new Date(seconds * 1000) : null;
}
