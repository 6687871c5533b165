/**
 * A subscription's `discounts` (the Subscription object: "The discounts applied to the subscription"), set on create
 * and replaced on update (`discounts=''` removes them all: the SDK types the update parameter as `Emptyable`), and
 * `DELETE /v1/subscriptions/:id/discount` ("Removes the currently applied discount on a subscription").
 */
import type Stripe from 'stripe';
import { COLLECTIONS } from '../../core/collections';
import { StripeApiError } from '../../core/errors';
import type { ApiRequest, Route } from '../../core/http';
import type { ParamReader } from '../../core/params';
import { type Emulator, idOf } from '../context';
import { customerIdOf } from '../invoices/invoice-objects';
import { isMetered, priceAmount } from '../pricing';
import { asDeleted, type DiscountRequest, readDiscountRequests, redeemDiscounts } from './redeem';

/** The recurring amount of `items` before discounts: what `restrictions.minimum_amount` is compared with. */
export function recurringAmount(items: readonly { price: Stripe.Price; quantity?: number | null }[]): number {
  return items
    .filter((item) => !isMetered(item.price))
    .reduce((sum, item) => sum + priceAmount(item.price, item.quantity ?? 1), 0);
}

/**
 * `discounts` of a subscription create or update: undefined when absent, null for `''` (remove all), else the
 * checked requests.
 */
export function readSubscriptionDiscounts(
  emulator: Emulator,
  input: ParamReader,
  customer: Stripe.Customer,
  currency: string,
  amount: number,
): DiscountRequest[] | null | undefined {
  if (!input.has('discounts')) return undefined;
  if (input.raw.discounts === '') return null;
  return readDiscountRequests(emulator, input.objArray('discounts') ?? [], { customer, currency, amount });
}

/**
 * Replaces the subscription's discounts with `requests` (redeeming the new ones); a discount that goes sends
 * `customer.discount.deleted`. The caller saves the subscription.
 */
export function setSubscriptionDiscounts(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  requests: readonly DiscountRequest[] | null,
): void {
  const kept = redeemDiscounts(emulator, requests ?? [], {
    customer: customerIdOf(subscription),
    subscription: subscription.id,
    checkoutSession: null,
  });
  const keptIds = new Set(kept.map((d) => d.id));
  for (const old of subscription.discounts ?? []) {
    const discount = emulator.store.get(COLLECTIONS.discount, idOf(old) ?? '');
    if (discount && !keptIds.has(discount.id))
      emulator.emitEvent('customer.discount.deleted', asDeleted(discount));
  }
  subscription.discounts = kept.map((d) => d.id);
}

function deleteDiscount(req: ApiRequest): unknown {
  const { emulator } = req;
  const subscription = emulator.store.require(COLLECTIONS.subscription, req.pathParams.id, 'subscription');
  const current = (subscription.discounts ?? []).map((d) =>
    emulator.store.get(COLLECTIONS.discount, idOf(d) ?? ''),
  );
  const first = current.find((d) => d !== undefined);
  if (!first) {
    throw new StripeApiError(404, {
      type: 'invalid_request_error',
      code: 'resource_missing',
      message: `No active discount for subscription: ${subscription.id}`,
    });
  }
  setSubscriptionDiscounts(emulator, subscription, null);
  emulator.store.put(COLLECTIONS.subscription, subscription);
  return asDeleted(first);
}

export const subscriptionDiscountRoutes: Route[] = [
  { method: 'DELETE', path: '/v1/subscriptions/:id/discount', handler: deleteDiscount },
];
