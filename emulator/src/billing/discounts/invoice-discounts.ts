/**
 * Which discounts an invoice gets, and how long a subscription keeps them (the Coupon object's `duration`: "One of
 * `forever`, `once`, or `repeating`. Describes how long a customer who applies this coupon will get the discount";
 * https://docs.stripe.com/billing/subscriptions/coupons: "Set a coupon to apply once, for a set number of months, or
 * indefinitely").
 *
 * - `forever`: every invoice of the subscription.
 * - `repeating`: invoices made before the discount's `end` ("If the coupon has a duration of `repeating`, the date
 *   that this discount will end", the Discount object); at the first invoice from then on the discount is removed.
 * - `once`: "Applies to the first charge from a subscription with this coupon applied": the first invoice it takes
 *   something off; then it is removed from the subscription.
 * A removed discount sends `customer.discount.deleted`; the Discount itself is kept, as invoices refer to it.
 */
import type Stripe from 'stripe';
import { COLLECTIONS } from '../../core/collections';
import { type Emulator, idOf } from '../context';
import { type AppliedDiscount, discountLines } from './amounts';
import { couponForDiscount } from './coupons';
import { asDeleted } from './redeem';

function withCoupon(emulator: Emulator, discount: Stripe.Discount): AppliedDiscount | null {
  const coupon = couponForDiscount(emulator, idOf(discount.source.coupon) ?? '');
  return coupon ? { discount, coupon } : null;
}

/** The stored discounts behind `ids`, each with its coupon. */
export function appliedDiscounts(
  emulator: Emulator,
  ids: readonly (string | { id: string })[],
): AppliedDiscount[] {
  return ids
    .map((ref) => emulator.store.get(COLLECTIONS.discount, typeof ref === 'string' ? ref : ref.id))
    .map((discount) => (discount ? withCoupon(emulator, discount) : null))
    .filter((entry): entry is AppliedDiscount => entry !== null);
}

/** The subscription's discounts still in effect at `at` (a repeating one ends at its `end`). */
export function subscriptionDiscountsAt(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  at: number,
): AppliedDiscount[] {
  return appliedDiscounts(emulator, subscription.discounts ?? []).filter(
    ({ discount }) => discount.end === null || at < discount.end,
  );
}

function removeFromSubscription(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  discount: Stripe.Discount,
): void {
  subscription.discounts = (subscription.discounts ?? []).filter((d) => idOf(d) !== discount.id);
  emulator.store.put(COLLECTIONS.subscription, subscription);
  emulator.emitEvent('customer.discount.deleted', asDeleted(discount));
}

/**
 * A new invoice's discounts: for a subscription invoice, the subscription's discounts in effect at its creation
 * (ended ones are removed first; a `once` discount that took something off is removed after).
 */
export function discountNewInvoice(
  emulator: Emulator,
  invoice: Stripe.Invoice,
  subscription: Stripe.Subscription | null,
): void {
  if (!subscription) {
    discountLines(invoice, appliedDiscounts(emulator, invoice.discounts ?? []));
    return;
  }
  for (const { discount } of appliedDiscounts(emulator, subscription.discounts ?? [])) {
    if (discount.end !== null && invoice.created >= discount.end)
      removeFromSubscription(emulator, subscription, discount);
  }
  const applied = subscriptionDiscountsAt(emulator, subscription, invoice.created);
  discountLines(invoice, applied);
  for (const { discount, coupon } of applied) {
    const used = invoice.total_discount_amounts?.find((d) => idOf(d.discount) === discount.id)?.amount ?? 0;
    if (coupon.duration === 'once' && used > 0) removeFromSubscription(emulator, subscription, discount);
  }
}

/** The amounts again after the lines changed (late usage, added lines), with the discounts the invoice already has. */
export function refreshInvoiceDiscounts(emulator: Emulator, invoice: Stripe.Invoice): void {
  discountLines(invoice, appliedDiscounts(emulator, invoice.discounts ?? []));
}
