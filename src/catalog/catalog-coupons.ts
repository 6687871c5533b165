import Stripe from 'stripe';
import type { Coupon } from '../services/plans/plan.types';
import { syncKey } from './catalog-keys';
import type { SyncReport } from './catalog-report';

/** Coupon metadata key naming the catalog coupon (its id is ours too; the metadata says who made it). */
export const COUPON_METADATA = 'coditect_coupon';

/**
 * A coupon in Stripe whose money terms differ from the file. Stripe cannot edit them
 * (https://docs.stripe.com/api/coupons/update updates only `name`, `metadata` and `currency_options`), and
 * customers already hold discounts made from it, so the sync refuses rather than diverge silently.
 */
export class CouponConflictError extends Error {
  constructor(couponId: string, differences: string[]) {
    super(
      `Stripe coupon ${couponId} differs from plans/plans.yaml in what Stripe cannot change (${differences.join('; ')}): ` +
        'give the coupon a new id in plans/plans.yaml (and point its promotion codes at it), or delete the old ' +
        'coupon in the Dashboard first (discounts already made from it stay).',
    );
    this.name = 'CouponConflictError';
  }
}

/**
 * Makes the coupon exist with the file's terms, under the file's id (Stripe accepts `id` on create:
 * https://docs.stripe.com/api/coupons/create), so a second run finds it again. The plan restriction is the
 * coupon's `applies_to.products` (the plans' product ids). Only the name is ever updated.
 */
export async function syncCoupon(
  stripe: Stripe,
  coupon: Coupon,
  productIds: string[],
  currencies: readonly string[],
  report: SyncReport,
): Promise<void> {
  const desired = couponParams(coupon, productIds, currencies);
  const what = describe(coupon, currencies);
  const found = await retrieveCoupon(stripe, coupon.id);
  if (!found) {
    await stripe.coupons.create(desired, {
      idempotencyKey: syncKey(`coupon:create:${coupon.id}`, desired),
    });
    report.add('created', 'coupon', coupon.id, what);
    return;
  }
  const differences = termDifferences(found, desired);
  if (differences.length > 0) throw new CouponConflictError(coupon.id, differences);
  const sameOptions = optionsText(found.currency_options) === optionsText(desired.currency_options);
  if (found.name === coupon.name && found.metadata?.[COUPON_METADATA] === coupon.id && sameOptions) {
    report.add('unchanged', 'coupon', coupon.id, what);
    return;
  }
  // The other currencies' amounts are among what Stripe edits in place (`currency_options`).
  const params: Stripe.CouponUpdateParams = {
    name: coupon.name,
    metadata: { [COUPON_METADATA]: coupon.id },
    ...(sameOptions ? {} : { currency_options: desired.currency_options }),
  };
  await stripe.coupons.update(coupon.id, params, {
    idempotencyKey: syncKey(
      `coupon:update:${coupon.id}:${found.name ?? ''}:${optionsText(found.currency_options)}`,
      params,
    ),
  });
  report.add('updated', 'coupon', coupon.id, what);
}

function couponParams(
  coupon: Coupon,
  productIds: string[],
  currencies: readonly string[],
): Stripe.CouponCreateParams {
  // The base currency's amount is the coupon's own; every other currency's is a `currency_options` entry
  // (https://docs.stripe.com/api/coupons/create: currency_options "Coupons defined in each available currency").
  const [currency, ...others] = currencies as [string, ...string[]];
  const amountOff = coupon.amountsOff?.[currency];
  const options = others.flatMap((other) => {
    const amount = coupon.amountsOff?.[other];
    return amount === undefined ? [] : [[other, { amount_off: amount }] as const];
  });
  return {
    id: coupon.id,
    name: coupon.name,
    duration: coupon.duration,
    ...(coupon.durationInMonths !== null ? { duration_in_months: coupon.durationInMonths } : {}),
    ...(coupon.percentOff !== null ? { percent_off: coupon.percentOff } : {}),
    ...(amountOff !== undefined ? { amount_off: amountOff, currency } : {}),
    ...(options.length > 0 ? { currency_options: Object.fromEntries(options) } : {}),
    ...(productIds.length > 0 ? { applies_to: { products: [...productIds].sort() } } : {}),
    ...(coupon.redeemBy ? { redeem_by: Math.floor(coupon.redeemBy.getTime() / 1000) } : {}),
    ...(coupon.maxRedemptions !== null ? { max_redemptions: coupon.maxRedemptions } : {}),
    metadata: { [COUPON_METADATA]: coupon.id },
  };
}

/** The coupon with its `applies_to` (returned only when expanded), or null when Stripe has none by that id. */
async function retrieveCoupon(stripe: Stripe, id: string): Promise<Stripe.Coupon | null> {
  try {
    const coupon = await stripe.coupons.retrieve(id, { expand: ['applies_to', 'currency_options'] });
    return coupon.deleted ? null : coupon;
  } catch (error) {
    if (error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'resource_missing')
      return null;
    throw error;
  }
}

function termDifferences(found: Stripe.Coupon, desired: Stripe.CouponCreateParams): string[] {
  const compared: Array<[string, unknown, unknown]> = [
    ['percent_off', found.percent_off, desired.percent_off ?? null],
    ['amount_off', found.amount_off, desired.amount_off ?? null],
    ['currency', found.amount_off === null ? null : found.currency, desired.currency ?? null],
    ['duration', found.duration, desired.duration],
    ['duration_in_months', found.duration_in_months, desired.duration_in_months ?? null],
    ['applies_to.products', productsOf(found.applies_to?.products), productsOf(desired.applies_to?.products)],
    ['redeem_by', found.redeem_by, desired.redeem_by ?? null],
    ['max_redemptions', found.max_redemptions, desired.max_redemptions ?? null],
  ];
  return compared
    .filter(([, inStripe, inFile]) => inStripe !== inFile)
    .map(
      ([field, inStripe, inFile]) =>
        `${field} is ${String(inStripe)} in Stripe, ${String(inFile)} in the file`,
    );
}

function productsOf(products: readonly string[] | undefined): string {
  return products && products.length > 0 ? [...products].sort().join(',') : 'every product';
}

/** `eur:450` for the amounts of the non-base currencies, in a stable order (Stripe lists the base one too). */
function optionsText(options: Record<string, { amount_off?: number }> | null | undefined): string {
  return Object.entries(options ?? {})
    .filter(([, option]) => option.amount_off !== undefined)
    .map(([currency, option]) => `${currency}:${option.amount_off}`)
    .sort()
    .join(',');
}

function describe(coupon: Coupon, currencies: readonly string[]): string {
  const off =
    coupon.percentOff !== null
      ? `${coupon.percentOff}% off`
      : `${currencies.map((currency) => `${coupon.amountsOff?.[currency]} ${currency}`).join(' / ')} off`;
  const how = coupon.duration === 'repeating' ? `for ${coupon.durationInMonths} months` : coupon.duration;
  const plans = coupon.plans.length > 0 ? ` on ${coupon.plans.join(', ')}` : '';
  return `${off} ${how}${plans}`;
}
