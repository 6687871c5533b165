import type Stripe from 'stripe';
import type { StripeClient } from '../stripe/stripe-client';
import { idOf } from '../stripe/expandable';

/** A refunded charge, as far as our invoices are concerned. */
export interface RefundedInvoice {
  /** The invoice the charge paid (as Stripe has it now), or null for a payment that paid no invoice. */
  invoice: Stripe.Invoice | null;
  /** What is refunded of all the invoice's payments, in minor units of the invoice's currency. */
  amountRefunded: number;
}

/**
 * The statuses of a chargeback while the bank holds the disputed funds (open) or kept them (lost); an inquiry
 * (`warning_*`) withdraws nothing, and a dispute won gives the funds back (https://docs.stripe.com/disputes/
 * how-disputes-work; the statuses: https://docs.stripe.com/api/disputes/object#dispute_object-status).
 */
const FUNDS_WITHDRAWN = new Set(['needs_response', 'under_review', 'lost']);

/**
 * What was refunded of an invoice, from one of its charges (`charge.refunded`). In this API version neither
 * the charge nor its payment intent names the invoice: the invoice's payments do
 * (https://docs.stripe.com/api/invoice-payment/list, filter `payment[payment_intent]`). A refund leaves the
 * invoice `paid` (Stripe changes no invoice for it), so the amount is kept beside the invoice's status.
 */
export class InvoiceRefunds {
  constructor(private readonly stripe: StripeClient) {}

  async ofCharge(chargeId: string): Promise<RefundedInvoice> {
    const charge = await this.stripe.call('charges.retrieve', (sdk) => sdk.charges.retrieve(chargeId));
    const invoiceId = await this.invoiceOf(idOf(charge.payment_intent));
    if (!invoiceId) return { invoice: null, amountRefunded: charge.amount_refunded };
    const invoice = await this.stripe.call('invoices.retrieve', (sdk) => sdk.invoices.retrieve(invoiceId));
    return { invoice, amountRefunded: await this.refundedOfInvoice(invoiceId) };
  }

  /** The invoice a payment intent paid, if any. */
  async invoiceOf(paymentIntentId: string | null): Promise<string | null> {
    if (!paymentIntentId) return null;
    const payments = await this.stripe.call('invoicePayments.list', (sdk) =>
      sdk.invoicePayments.list({
        payment: { type: 'payment_intent', payment_intent: paymentIntentId },
        limit: 1,
      }),
    );
    return idOf(payments.data[0]?.invoice);
  }

  /**
   * What was given back of the invoice's payments in all: its credit notes after payment, to the card, to the
   * customer's balance or out of band (`post_payment_credit_notes_amount`), plus refunds made outside credit notes
   * (the Dashboard, a duplicate's refund). `invoice` must be read fresh from Stripe; `known` passes what the
   * caller has already read of it (its credit notes, its paid payment intents), so a check reads each list once.
   */
  async givenBackOfInvoice(
    invoice: Stripe.Invoice,
    known: { notes?: readonly Stripe.CreditNote[]; paidIntents?: readonly string[] } = {},
  ): Promise<number> {
    const invoiceId = invoice.id as string;
    const refundedOnCharges = await this.refundedOf(
      known.paidIntents ?? (await this.paidIntentsOf(invoiceId)),
    );
    const refundedByNotes = (known.notes ?? (await this.creditNotesOf(invoiceId)))
      .flatMap((note) => note.refunds ?? [])
      .reduce((total, refund) => total + refund.amount_refunded, 0);
    return invoice.post_payment_credit_notes_amount + Math.max(0, refundedOnCharges - refundedByNotes);
  }

  /** Every credit note of the invoice, newest first. */
  async creditNotesOf(stripeInvoiceId: string): Promise<Stripe.CreditNote[]> {
    const notes: Stripe.CreditNote[] = [];
    for (let more = true; more; ) {
      const page = await this.stripe.call('creditNotes.list', (sdk) =>
        sdk.creditNotes.list({ invoice: stripeInvoiceId, limit: 100, starting_after: notes.at(-1)?.id }),
      );
      notes.push(...page.data);
      more = page.has_more && page.data.length > 0;
    }
    return notes;
  }

  /**
   * What chargebacks withdrew from the invoice's payments (row 87): money the bank took back for the customer is
   * not the invoice's to give a second time, to the card or to the balance. `paidIntents`: `paidIntentsOf` the
   * invoice.
   */
  async chargedBackOf(paidIntents: readonly string[]): Promise<number> {
    let withdrawn = 0;
    for (const paymentIntent of paidIntents) {
      const disputes = await this.stripe.call('disputes.list', (sdk) =>
        sdk.disputes.list({ payment_intent: paymentIntent, limit: 100 }),
      );
      for (const dispute of disputes.data)
        if (FUNDS_WITHDRAWN.has(dispute.status)) withdrawn += dispute.amount;
    }
    return withdrawn;
  }

  /** Σ `amount_refunded` of the charges of the invoice's paid payments (usually one). */
  async refundedOfInvoice(invoiceId: string): Promise<number> {
    return this.refundedOf(await this.paidIntentsOf(invoiceId));
  }

  /** Σ `amount_refunded` of the charges of these payment intents. */
  private async refundedOf(paidIntents: readonly string[]): Promise<number> {
    let refunded = 0;
    for (const paymentIntent of paidIntents) {
      const charges = await this.stripe.call('charges.list', (sdk) =>
        sdk.charges.list({ payment_intent: paymentIntent, limit: 100 }),
      );
      for (const charge of charges.data) refunded += charge.amount_refunded;
    }
    return refunded;
  }

  /** The payment intents of the invoice's paid payments (usually one). */
  async paidIntentsOf(invoiceId: string): Promise<string[]> {
    const payments = await this.stripe.call('invoicePayments.list', (sdk) =>
      sdk.invoicePayments.list({ invoice: invoiceId, status: 'paid', limit: 100 }),
    );
    return payments.data
      .filter((candidate) => candidate.status === 'paid')
      .map((payment) => idOf(payment.payment.payment_intent))
      .filter((paymentIntent): paymentIntent is string => paymentIntent !== null);
  }
}
