import type Stripe from 'stripe';
import { idOf } from '../stripe/expandable';

/**
 * The card we mark as the account's default, one rule for the webhook and the resync: the customer's default
 * payment method, else the live subscription's own (Checkout sets the card on the subscription, not on the
 * customer). Stripe itself charges a subscription's invoices with the subscription's `default_payment_method`
 * when it has one, before the customer's (API reference, Subscription.default_payment_method): the two differ only
 * when both are set to different cards.
 */
export function chargedCardOf(
  customer: Stripe.Customer,
  liveSubscription: Pick<Stripe.Subscription, 'default_payment_method'> | null | undefined,
): string | null {
  return (
    idOf(customer.invoice_settings?.default_payment_method) ??
    idOf(liveSubscription?.default_payment_method) ??
    null
  );
}
