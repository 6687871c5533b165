import type Stripe from 'stripe';
import { AUTO_TOP_UP_METADATA } from '../stripe/metadata-keys';
import type { StripeClient } from '../stripe/stripe-client';

/**
 * An automatic top-up's pack that waits for the customer's bank approval (3-D Secure) and is never approved
 * (billing-rules row 111): its open invoice is voided, and its amount leaves the period's spend. Credits were
 * never granted for it (only a paid invoice grants), and a void invoice can never be paid.
 */

/** The attempt an automatic top-up's invoice was charged for (its metadata, `auto-top-up:<attempt>`); else null. */
export function topUpAttemptOf(invoice: Pick<Stripe.Invoice, 'metadata'>): number | null {
  const attempt = Number(invoice.metadata?.[AUTO_TOP_UP_METADATA]);
  return Number.isSafeInteger(attempt) && attempt > 0 ? attempt : null;
}

/**
 * Voids an unpaid top-up invoice at Stripe. Stripe voids a finalized invoice that is open or uncollectible, "This
 * cannot be undone" (https://docs.stripe.com/api/invoices/void): once void it cannot be paid, so the late approval
 * of a pack the customer gave up on never charges nor grants. An invoice the customer paid first (Stripe then
 * refuses the void) is answered as it is: paid, its credits granted by `invoice.paid`, its amount still spent.
 */
export async function voidUnpaidTopUp(stripe: StripeClient, invoiceId: string): Promise<Stripe.Invoice> {
  try {
    return await stripe.call(
      'invoices.voidInvoice',
      (sdk, options) => sdk.invoices.voidInvoice(invoiceId, {}, options),
      { name: `credits.top-up-void:${invoiceId}`, params: { invoiceId } },
    );
  } catch (error) {
    const now = await stripe.call('invoices.retrieve', (sdk) => sdk.invoices.retrieve(invoiceId));
    if (now.status === 'paid' || now.status === 'void') return now;
    throw error;
  }
}
