import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { Invoice } from '../../entities';
import { BadUserInputError, BillingError, ErrorCode, NotFoundError } from '../../errors';
import type { AccountEvents } from '../accounts/account-events';
import { withAccountLock } from '../accounts/account-lock';
import type { StripeClient } from '../stripe/stripe-client';
import type { InvoiceRefunds } from './invoice-refunds';

/** Where a refund of an invoice goes: back to the card, or to the customer's credit balance (the next invoices). */
export type CreditDestination = 'card' | 'customer_balance';

export interface RefundRequest {
  stripeInvoiceId: string;
  /** Minor units of the invoice's currency. */
  amount: number;
  reason: Stripe.CreditNoteCreateParams.Reason | null;
  to: CreditDestination;
  /** The admin's key for this refund: a retry with it never refunds twice. */
  idempotencyKey: string;
  /** Who asked (written on the credit note). */
  requestedBy: string;
}

/** The credit note metadata key that holds the refund's idempotency key. */
const REFUND_KEY_METADATA = 'coditect_refund_key';

/**
 * Refunds by admins, always through a Stripe credit note (https://docs.stripe.com/invoicing/integration/
 * programmatic-credit-notes), so the invoice itself shows what was given back: `refund_amount` to the card, or
 * `credit_amount` to the customer's balance, which Stripe applies to the next invoices. Never more than the
 * invoice's payments still hold (docs/billing-rules.md, "refunds"): what was paid, less what credit notes gave
 * back, less refunds made outside credit notes (a duplicate's refund, say). Under the account lock, so two
 * refunds of one account cannot both pass that check; a retry with the same key finds its credit note.
 */
export class InvoiceCredits {
  constructor(
    private readonly stripe: StripeClient,
    private readonly refunds: InvoiceRefunds,
    private readonly events: AccountEvents,
  ) {}

  async refund(em: EntityManager, request: RefundRequest): Promise<Invoice> {
    if (!Number.isInteger(request.amount) || request.amount <= 0)
      throw new BadUserInputError('amount must be a positive whole number of minor units (cents)', 'amount');
    const row = await em.findOne(Invoice, { stripeInvoiceId: request.stripeInvoiceId });
    if (!row) throw new NotFoundError('This invoice');
    const key = `invoice.credit:${request.stripeInvoiceId}:${request.idempotencyKey}`;
    await withAccountLock(em, row.accountId, async () => {
      const notes = await this.creditNotesOf(request.stripeInvoiceId);
      if (notes.some((note) => note.metadata?.[REFUND_KEY_METADATA] === request.idempotencyKey)) return;
      const refundable = await this.refundable(request.stripeInvoiceId, notes);
      if (request.amount > refundable) {
        throw new BillingError(
          ErrorCode.REFUND_EXCEEDS_PAID,
          `At most ${refundable} (minor units) of this invoice can still be refunded`,
          { refundable },
        );
      }
      const params: Stripe.CreditNoteCreateParams = {
        invoice: request.stripeInvoiceId,
        amount: request.amount,
        ...(request.to === 'card' ? { refund_amount: request.amount } : { credit_amount: request.amount }),
        ...(request.reason ? { reason: request.reason } : {}),
        metadata: { [REFUND_KEY_METADATA]: request.idempotencyKey, requested_by: request.requestedBy },
      };
      await this.stripe.call(
        'creditNotes.create',
        (sdk, options) => sdk.creditNotes.create(params, options),
        {
          name: key,
          params,
        },
      );
    });
    await this.events.accountUpdated(row.accountId, 'invoice.credited');
    return row;
  }

  /** Every credit note of the invoice, newest first. */
  async creditNotesOf(stripeInvoiceId: string): Promise<Stripe.CreditNote[]> {
    return this.refunds.creditNotesOf(stripeInvoiceId);
  }

  /**
   * What the invoice's payments still hold: paid, less what was given back (credit notes, refunds outside them),
   * less what chargebacks withdrew (row 87).
   */
  private async refundable(stripeInvoiceId: string, notes: readonly Stripe.CreditNote[]): Promise<number> {
    const invoice = await this.stripe.call('invoices.retrieve', (sdk) =>
      sdk.invoices.retrieve(stripeInvoiceId),
    );
    const paidIntents = await this.refunds.paidIntentsOf(stripeInvoiceId);
    const givenBack = await this.refunds.givenBackOfInvoice(invoice, { notes, paidIntents });
    const chargedBack = await this.refunds.chargedBackOf(paidIntents);
    return Math.max(0, invoice.amount_paid - givenBack - chargedBack);
  }
}
