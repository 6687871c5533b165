/**
 * Which currency a new subscription bills in, and the customer's currency it fixes.
 *
 * - `currency` (SubscriptionCreateParams: "Three-letter ISO currency code … Must be a supported currency"), else the
 *   customer's `currency` when every price offers it, else the first price's currency; every price must then have
 *   that currency or a `currency_options` entry for it (https://docs.stripe.com/products-prices/how-products-and-prices-work#multiple-currencies).
 * - "You can change the customer's default currency if there are no active subscriptions … in the customer's current
 *   currency. The customer's default currency will be changed when the customer does not have any active
 *   subscriptions and you start a new subscription … in a new currency"
 *   (https://support.stripe.com/questions/set-or-change-currency-for-an-invoice-or-customer-in-stripe-billing);
 *   "you can't have two active subscriptions with different currencies"
 *   (https://docs.stripe.com/invoicing/multiple-currencies).
 */
import type Stripe from 'stripe';
import { COLLECTIONS } from '../../core/collections';
import { invalidRequest } from '../../core/errors';
import { supportsCurrency } from '../../resources/price-currency-options';
import type { Emulator } from '../context';
import { customerIdOf } from '../invoices/invoice-objects';

const ENDED: readonly string[] = ['canceled', 'incomplete_expired'];

function activeCurrencies(emulator: Emulator, customerId: string): Set<string> {
  return new Set(
    emulator.store
      .all(COLLECTIONS.subscription)
      .filter((s) => customerIdOf(s) === customerId && !ENDED.includes(s.status))
      .map((s) => s.currency),
  );
}

export function subscriptionCurrency(
  emulator: Emulator,
  customer: Stripe.Customer,
  prices: readonly Stripe.Price[],
  requested: string | undefined,
): string {
  const customerCurrency = customer.currency ?? null;
  const currency =
    requested?.toLowerCase() ??
    (customerCurrency && prices.every((p) => supportsCurrency(p, customerCurrency))
      ? customerCurrency
      : prices[0].currency);
  prices.forEach((price, i) => {
    if (!supportsCurrency(price, currency)) {
      throw invalidRequest(
        `The price specified (${price.id}) does not support currency ${currency}; add it to the price's currency_options.`,
        `items[${i}][price]`,
      );
    }
  });
  const other = [...activeCurrencies(emulator, customer.id)].find((c) => c !== currency);
  if (other) {
    throw invalidRequest(
      `You cannot combine currencies on a single customer. This customer has an active subscription, subscription schedule, discount, quote, or invoice item with currency ${other}.`,
      'currency',
    );
  }
  return currency;
}

/**
 * Sets the customer's `currency` to the one it is now billed in. No `customer.updated` is sent for it: the event
 * orders recorded from Stripe (facts §4, e.g. Checkout in subscription mode)
 * show none between `payment_method.attached` and `customer.subscription.created`.
 */
export function fixCustomerCurrency(emulator: Emulator, customerId: string, currency: string): void {
  const customer = emulator.store.get(COLLECTIONS.customer, customerId);
  if (!customer || customer.currency === currency) return;
  emulator.store.update(COLLECTIONS.customer, customerId, (c) => {
    c.currency = currency;
  });
}

/**
 * A change to a subscription's items may only use prices offered in the subscription's currency ("The currency
 * cannot be updated on an ongoing subscription", same support article): 400 naming `<prefix>[i][price]`.
 */
export function refuseOtherCurrency<T extends { price: Stripe.Price | null }>(
  changes: T[],
  currency: string,
  prefix = 'items',
): T[] {
  changes.forEach((change, i) => {
    if (change.price && !supportsCurrency(change.price, currency)) {
      throw invalidRequest(
        `The price specified (${change.price.id}) does not support currency ${currency}, the subscription's currency.`,
        `${prefix}[${i}][price]`,
      );
    }
  });
  return changes;
}
