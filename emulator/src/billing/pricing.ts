/**
 * What a price charges for a quantity, in integer cents. Per-unit prices: `unit_amount × quantity`
 * (`transform_quantity` divides first, rounding as configured); tiered prices: graduated or volume
 * (https://docs.stripe.com/products-prices/pricing-models).
 */
import type Stripe from 'stripe';
import { invalidRequest } from '../core/errors';
import { decimalString } from './context';
import { type Interval, type Tier, tieredAmount } from './math';

export function priceProductId(price: Stripe.Price): string {
  return typeof price.product === 'string' ? price.product : price.product.id;
}

export function isMetered(price: Stripe.Price): boolean {
  return price.recurring?.usage_type === 'metered';
}

/**
 * Stripe refuses a quantity on a metered price (its quantity is what the meter counts): 400 naming the entry,
 * e.g. "Quantity should not be specified where usage_type is `metered`. Remove quantity from `line_items[1]`."
 */
export function refuseMeteredQuantity(
  price: Stripe.Price,
  quantity: number | undefined,
  entry: string,
): void {
  if (quantity === undefined || !isMetered(price)) return;
  throw invalidRequest(
    `Quantity should not be specified where usage_type is \`metered\`. Remove quantity from \`${entry}\`.`,
    `${entry}[quantity]`,
  );
}

function priceTiers(price: Stripe.Price): Tier[] {
  return (price.tiers ?? []).map((t) => ({
    up_to: t.up_to,
    unit_amount:
      t.unit_amount ??
      (t.unit_amount_decimal ? Math.round(Number(decimalString(t.unit_amount_decimal))) : null),
    flat_amount:
      t.flat_amount ??
      (t.flat_amount_decimal ? Math.round(Number(decimalString(t.flat_amount_decimal))) : null),
  }));
}

export function unitAmount(price: Stripe.Price): number {
  if (price.unit_amount !== null) return price.unit_amount;
  // Sub-cent decimals are not emulated: the decimal rounds once to whole cents here.
  if (price.unit_amount_decimal) return Math.round(Number(decimalString(price.unit_amount_decimal)));
  return 0;
}

/** Cents for `quantity` units of `price` over one full period (or one purchase). */
export function priceAmount(price: Stripe.Price, quantity: number): number {
  if (price.billing_scheme === 'tiered') {
    const mode = price.tiers_mode === 'volume' ? 'volume' : 'graduated';
    return tieredAmount(mode, priceTiers(price), quantity);
  }
  let q = quantity;
  const t = price.transform_quantity;
  if (t && t.divide_by > 0) {
    q = t.round === 'down' ? Math.floor(quantity / t.divide_by) : Math.ceil(quantity / t.divide_by);
  }
  const decimal = price.unit_amount === null ? decimalString(price.unit_amount_decimal) : null;
  return decimal ? decimalTimes(decimal, q) : unitAmount(price) * q;
}

/**
 * `quantity × unit_amount_decimal` in whole cents. Stripe ("Decimal amounts for pricing", Rounding): "rounding
 * occurs after the quantity is multiplied by the decimal amount ... 0.05 * 30 = 1.5, which is then rounded up to
 * 2 cents", once per line item. Exact: the decimal is read as an integer over a power of ten, never a float.
 */
export function decimalTimes(decimal: string, quantity: number): number {
  const [whole = '0', fraction = ''] = decimal.split('.');
  const scale = 10n ** BigInt(fraction.length);
  const product = BigInt(`${whole}${fraction}`) * BigInt(quantity);
  // Half up: 1.5 → 2, 1.49 → 1 (amounts are never negative here).
  return Number((product * 2n + scale) / (scale * 2n));
}

export function recurringOf(price: Stripe.Price): { interval: Interval; count: number } {
  const r = price.recurring;
  if (!r) return { interval: 'month', count: 1 };
  return { interval: r.interval as Interval, count: r.interval_count || 1 };
}

/** `unit_amount_decimal` for a line's `pricing`, as Stripe shows it (a decimal string). */
export function unitAmountDecimal(price: Stripe.Price): string | null {
  if (price.billing_scheme === 'tiered') return null;
  return decimalString(price.unit_amount_decimal) ?? String(unitAmount(price));
}
