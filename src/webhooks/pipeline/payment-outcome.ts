import type Stripe from 'stripe';

/**
 * What a committed invoice event counts as in the payment metrics (`billing_payments_total`): `invoice.paid`
 * with money paid is a success (a $0 trial or fully discounted invoice is not a payment), and every
 * `invoice.payment_failed` is a failure (each failed attempt is its own event). Other events: null.
 */
export function paymentOutcomeOf(event: Stripe.Event): 'succeeded' | 'failed' | null {
  if (event.type === 'invoice.payment_failed') return 'failed';
  if (event.type === 'invoice.paid')
    return ((event.data.object as Stripe.Invoice).amount_paid ?? 0) > 0 ? 'succeeded' : null;
  return null;
}
