/**
 * Prorations of a discounted subscription. The emulator's subscriptions use flexible billing mode with
 * `proration_discounts: included` (Stripe's default), where "the proration discount properties include discount
 * IDs, but discount amounts are 0" and the proration `amount` is already net of the discount; `itemized` would
 * "show gross amounts before discounts are applied"
 * (https://docs.stripe.com/changelog/clover/2025-09-30/itemize-proration-discount-amounts).
 *
 * So each proration line (credit and debit alike) is reduced by the subscription's percent-off discounts in effect
 * at the proration date, rounded once per line and per discount, and names them in `discounts`. Amount-off coupons
 * are left out of prorations: Stripe documents no per-line share of a flat amount for a partial period.
 */
import type Stripe from 'stripe';
import type { Emulator } from '../context';
import type { LineSpec } from '../invoices/invoice-objects';
import { priceProductId } from '../pricing';
import { percentOf } from './amounts';
import { subscriptionDiscountsAt } from './invoice-discounts';

function appliesToPrice(coupon: Stripe.Coupon, price: Stripe.Price | null): boolean {
  const products = coupon.applies_to?.products;
  if (!products || products.length === 0) return true;
  return price !== null && products.includes(priceProductId(price));
}

export function discountProrationLines(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  lines: LineSpec[],
  date: number,
): LineSpec[] {
  const percentOff = subscriptionDiscountsAt(emulator, subscription, date).filter(
    ({ coupon }) => coupon.percent_off !== null,
  );
  if (percentOff.length === 0) return lines;
  return lines.map((line) => {
    const applying = percentOff.filter(({ coupon }) => appliesToPrice(coupon, line.price));
    if (applying.length === 0) return line;
    let amount = line.amount;
    for (const { coupon } of applying) amount -= percentOf(amount, coupon.percent_off ?? 0);
    return { ...line, amount, discounts: applying.map(({ discount }) => discount.id) };
  });
}
