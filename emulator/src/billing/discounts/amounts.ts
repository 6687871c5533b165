/**
 * Discount amounts on invoice lines, in integer cents. Stripe's order on an invoice: line amounts → discounts (each
 * line's `discount_amounts`, the invoice's `total_discount_amounts`) → tax on the discounted amount → total
 * (the Invoice object: `subtotal` is "Total of all subscriptions, invoice items, and prorations on the invoice before
 * any invoice level discount or exclusive tax is applied"; `total_discount_amounts`: "The aggregate amounts
 * calculated per discount across all line items").
 *
 * - percent_off takes that share of each line it applies to, rounded once per line
 *   (https://docs.stripe.com/billing/subscriptions/coupons: "Reduce invoice amounts by a percentage or a flat amount").
 * - amount_off is "taken off the subtotal of any invoices" (the Coupon object), at most the amount it applies to,
 *   in the invoice's currency (the coupon's own or a `currency_options` entry); it is spread over the lines in proportion to their amounts (largest remainder, so the parts add up exactly).
 * - `applies_to.products` limits the lines a coupon discounts ("limits the items in an invoice that the coupon can
 *   apply to").
 * - Several discounts apply one after the other, each to what the previous ones left.
 * - Lines that are not `discountable` (prorations, whose discount is already in their amount: see `prorations.ts`)
 *   keep the discount ids they were made with, at amount 0.
 */
import type Stripe from 'stripe';
import { assertCents } from '../math';
import { amountOffIn } from './coupons';

/** A discount with the coupon it was made from. */
export interface AppliedDiscount {
  discount: Stripe.Discount;
  coupon: Stripe.Coupon;
}

/** A line's amount minus its discount amounts: what tax is computed on. */
export function discountedAmountOf(
  line: Pick<Stripe.InvoiceLineItem, 'amount' | 'discount_amounts'>,
): number {
  return line.amount - (line.discount_amounts ?? []).reduce((sum, d) => sum + d.amount, 0);
}

/** The invoice's discounts in total (the sum of `total_discount_amounts`). */
export function totalDiscountOf(invoice: Pick<Stripe.Invoice, 'total_discount_amounts'>): number {
  return (invoice.total_discount_amounts ?? []).reduce((sum, d) => sum + d.amount, 0);
}

function productOf(line: Stripe.InvoiceLineItem): string | null {
  return line.pricing?.price_details?.product ?? null;
}

/** Something a coupon may discount: the amount still undiscounted, and the product it is for. */
export interface Discountable {
  amount: number;
  product: string | null;
}

function appliesTo(coupon: Stripe.Coupon, product: string | null): boolean {
  const products = coupon.applies_to?.products;
  if (!products || products.length === 0) return true;
  return product !== null && products.includes(product);
}

/** `percent` of `amount`, rounded half away from zero once (percent has at most two decimals). */
export function percentOf(amount: number, percent: number): number {
  assertCents(amount);
  const basisPoints = Math.round(percent * 100);
  return Math.sign(amount) * Math.round((Math.abs(amount) * basisPoints) / 10_000);
}

/** Splits `total` over `weights` in proportion, the leftover cents to the largest remainders (ties: first line). */
export function spread(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((s, w) => s + w, 0);
  if (sum <= 0) return weights.map(() => 0);
  // Integer arithmetic: each part's floor and its remainder are exact.
  const parts = weights.map((w) => Math.floor((total * w) / sum));
  let left = total - parts.reduce((s, p) => s + p, 0);
  const order = weights.map((w, i) => ({ i, r: (total * w) % sum })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    parts[i] += 1;
    left -= 1;
  }
  return parts;
}

/** What `coupon` takes off each of `bases` (0 for those it does not apply to), in `currency`. */
export function couponShares(
  coupon: Stripe.Coupon,
  currency: string,
  bases: readonly Discountable[],
): number[] {
  const eligible = bases.map((base) => base.amount > 0 && appliesTo(coupon, base.product));
  if (coupon.percent_off !== null) {
    const percent = coupon.percent_off;
    return bases.map((base, i) => (eligible[i] ? Math.min(base.amount, percentOf(base.amount, percent)) : 0));
  }
  const amountOff = amountOffIn(coupon, currency);
  if (amountOff === null) return bases.map(() => 0);
  const weights = bases.map((base, i) => (eligible[i] ? base.amount : 0));
  const total = Math.min(
    amountOff,
    weights.reduce((sum, w) => sum + w, 0),
  );
  return spread(total, weights);
}

/**
 * Writes `discount_amounts` on every line and `discounts` / `total_discount_amounts` on the invoice for `applied`
 * (in order). Pure: the caller decides which discounts apply.
 */
export function discountLines(invoice: Stripe.Invoice, applied: readonly AppliedDiscount[]): void {
  const lines = invoice.lines.data;
  const left = lines.map((line) => (line.discountable ? line.amount : 0));
  for (const line of lines) {
    line.discount_amounts = line.discountable
      ? []
      : (line.discounts ?? []).map((d) => ({ amount: 0, discount: typeof d === 'string' ? d : d.id }));
  }
  invoice.total_discount_amounts = applied.map((entry) => {
    const bases = lines.map((line, i) => ({ amount: left[i], product: productOf(line) }));
    const shares = couponShares(entry.coupon, invoice.currency, bases);
    shares.forEach((amount, i) => {
      if (!lines[i].discountable || bases[i].amount <= 0 || !appliesTo(entry.coupon, bases[i].product))
        return;
      lines[i].discount_amounts?.push({ amount, discount: entry.discount.id });
      left[i] -= amount;
    });
    return { amount: shares.reduce((sum, a) => sum + a, 0), discount: entry.discount.id };
  });
  invoice.discounts = applied.map((entry) => entry.discount.id);
}
