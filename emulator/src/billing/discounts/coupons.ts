/**
 * `/v1/coupons` (https://docs.stripe.com/api/coupons): a percent-off or amount-off discount, for `once`, `repeating`
 * (`duration_in_months`) or `forever` (https://docs.stripe.com/billing/subscriptions/coupons). `max_redemptions` and
 * `redeem_by` only limit when the coupon can be applied: "If you set a coupon to last forever when used by a
 * customer, but have it expire on January 1st, any customer given that coupon will have that coupon's discount
 * forever, but no new customers can apply the coupon after January 1st" — so a deleted coupon is kept aside for the
 * discounts made from it.
 */
import type Stripe from 'stripe';
import { COLLECTIONS } from '../../core/collections';
import { invalidRequest, missingParam, notFound } from '../../core/errors';
import type { ApiRequest, Route } from '../../core/http';
import { newId } from '../../core/ids';
import { paginate } from '../../core/list';
import type { ParamReader } from '../../core/params';
import { deletedStub, rememberDeleted } from '../../resources/common';
import type { Emulator } from '../context';

const COUPON_CREATE = [
  'amount_off',
  'applies_to',
  'currency',
  'currency_options',
  'duration',
  'duration_in_months',
  'id',
  'max_redemptions',
  'metadata',
  'name',
  'percent_off',
  'redeem_by',
];

/** A coupon that can still be applied, or 404 "No such coupon: 'x'". */
export function requireCoupon(emulator: Emulator, id: string, param = 'coupon'): Stripe.Coupon {
  const coupon = emulator.store.get(COLLECTIONS.coupon, id);
  if (!coupon) throw notFound('coupon', id, param);
  refreshValidity(emulator, coupon);
  return coupon;
}

/** The coupon behind a discount, deleted or not (a discount outlives its coupon). */
export function couponForDiscount(emulator: Emulator, id: string): Stripe.Coupon | undefined {
  return emulator.store.get(COLLECTIONS.coupon, id) ?? emulator.store.get(COLLECTIONS.deletedCoupon, id);
}

/**
 * `valid` (the Coupon object): "Taking account of the above properties, whether this coupon can still be applied to
 * a customer" — false once `redeem_by` has passed or `times_redeemed` reached `max_redemptions`.
 */
export function refreshValidity(emulator: Emulator, coupon: Stripe.Coupon): void {
  const expired = coupon.redeem_by !== null && coupon.redeem_by <= emulator.now();
  const used = coupon.max_redemptions !== null && coupon.times_redeemed >= coupon.max_redemptions;
  const valid = !expired && !used;
  if (coupon.valid !== valid) {
    coupon.valid = valid;
    emulator.store.put(COLLECTIONS.coupon, coupon);
  }
}

/**
 * Stripe's `coupon_expired` (https://docs.stripe.com/error-codes#coupon-expired; in the SDK's error code union) for a
 * coupon that is no longer valid.
 */
export function assertRedeemable(emulator: Emulator, coupon: Stripe.Coupon, param: string): void {
  refreshValidity(emulator, coupon);
  if (!coupon.valid) throw invalidRequest(`Coupon expired: ${coupon.id}`, param, 'coupon_expired');
}

/** Counts one redemption (a discount made from the coupon); `valid` turns false at `max_redemptions`. */
export function countRedemption(emulator: Emulator, coupon: Stripe.Coupon): void {
  coupon.times_redeemed += 1;
  emulator.store.put(COLLECTIONS.coupon, coupon);
  refreshValidity(emulator, coupon);
}

/**
 * `currency_options[<currency>][amount_off]` of an amount-off coupon ("Coupons defined in each available currency
 * option. Each key must be a three-letter ISO currency code", the Coupon object): what it takes off in another
 * currency. Returned only when expanded, as a price's `currency_options`.
 */
function readCurrencyOptions(
  input: ParamReader,
  current: Record<string, Stripe.Coupon.CurrencyOptions>,
): Record<string, Stripe.Coupon.CurrencyOptions> {
  const options = input.obj('currency_options');
  if (!options) return current;
  const out = { ...current };
  for (const currency of Object.keys(options.raw)) {
    const amountOff = options.obj(currency)?.reqInt('amount_off') ?? 0;
    if (amountOff <= 0)
      throw invalidRequest('Amount off must be a positive integer.', options.name(currency));
    out[currency.toLowerCase()] = { amount_off: amountOff };
  }
  return out;
}

/** What an amount-off coupon takes off in `currency` (its own, or a `currency_options` entry); null if none. */
export function amountOffIn(coupon: Stripe.Coupon, currency: string): number | null {
  if (coupon.amount_off === null) return null;
  if (coupon.currency === currency) return coupon.amount_off;
  return coupon.currency_options?.[currency]?.amount_off ?? null;
}

function readAmountOff(input: ParamReader): { amountOff: number | null; currency: string | null } {
  const amountOff = input.int('amount_off') ?? null;
  if (amountOff === null) return { amountOff, currency: null };
  if (amountOff <= 0) throw invalidRequest('Amount off must be a positive integer.', 'amount_off');
  const currency = input.str('currency')?.toLowerCase();
  if (!currency) throw missingParam('currency');
  return { amountOff, currency };
}

/** `percent_off`: a number above 0 and at most 100, with up to two decimals (the Coupon object). */
function readPercentOff(input: ParamReader): number | null {
  const raw = input.decimal('percent_off');
  if (raw === undefined) return null;
  const percent = Number(raw);
  if (!(percent > 0 && percent <= 100) || !/^\d+(\.\d{1,2})?$/.test(raw)) {
    throw invalidRequest('Percent off must be greater than 0 and at most 100.', 'percent_off');
  }
  return percent;
}

function readDuration(input: ParamReader): Pick<Stripe.Coupon, 'duration' | 'duration_in_months'> {
  const duration = input.oneOf('duration', ['once', 'repeating', 'forever'] as const) ?? 'once';
  const months = input.int('duration_in_months') ?? null;
  if (duration === 'repeating' && (months === null || months <= 0)) {
    if (months === null) throw missingParam('duration_in_months');
    throw invalidRequest('duration_in_months must be a positive integer.', 'duration_in_months');
  }
  if (duration !== 'repeating' && months !== null) {
    throw invalidRequest(
      'You can only pass duration_in_months when duration is `repeating`.',
      'duration_in_months',
    );
  }
  return { duration, duration_in_months: duration === 'repeating' ? months : null };
}

function create(req: ApiRequest): Stripe.Coupon {
  const { emulator, input } = req;
  const percentOff = readPercentOff(input);
  const { amountOff, currency } = readAmountOff(input);
  if (percentOff === null && amountOff === null) {
    throw invalidRequest('You must specify either percent_off or amount_off.', 'percent_off');
  }
  if (percentOff !== null && amountOff !== null) {
    throw invalidRequest(
      'You may only specify one of these parameters: amount_off, percent_off.',
      'amount_off',
      'parameters_exclusive',
    );
  }
  const id = input.str('id') || newId('').slice(1, 9);
  if (emulator.store.get(COLLECTIONS.coupon, id)) {
    throw invalidRequest('Coupon already exists.', 'id', 'resource_already_exists');
  }
  const maxRedemptions = input.int('max_redemptions') ?? null;
  if (maxRedemptions !== null && maxRedemptions <= 0) {
    throw invalidRequest('max_redemptions must be a positive integer.', 'max_redemptions');
  }
  const products = input.obj('applies_to')?.strArray('products');
  const coupon: Stripe.Coupon = {
    id,
    object: 'coupon',
    amount_off: amountOff,
    ...(products ? { applies_to: { products } } : {}),
    created: emulator.now(),
    currency,
    ...(amountOff !== null ? { currency_options: readCurrencyOptions(input, {}) } : {}),
    ...readDuration(input),
    livemode: false,
    max_redemptions: maxRedemptions,
    metadata: input.metadata({}),
    name: input.str('name') ?? null,
    percent_off: percentOff,
    redeem_by: input.int('redeem_by') ?? null,
    times_redeemed: 0,
    valid: true,
  };
  emulator.store.insert(COLLECTIONS.coupon, coupon);
  refreshValidity(emulator, coupon);
  emulator.emitEvent('coupon.created', coupon);
  return coupon;
}

/**
 * Only `name`, `metadata` and `currency_options` change: "Other coupon details (currency, duration, amount_off) are,
 * by design, not editable."
 */
function update(req: ApiRequest): Stripe.Coupon {
  const { emulator, input } = req;
  const current = requireCoupon(emulator, req.pathParams.id, 'id');
  const { obj, previous } = emulator.store.update(COLLECTIONS.coupon, current.id, (coupon) => {
    if (input.has('name')) coupon.name = input.strOrNull('name') ?? null;
    if (input.has('metadata')) coupon.metadata = input.metadata(coupon.metadata ?? {});
    if (coupon.amount_off !== null && input.has('currency_options')) {
      coupon.currency_options = readCurrencyOptions(input, coupon.currency_options ?? {});
    }
  });
  if (Object.keys(previous).length > 0) emulator.emitEvent('coupon.updated', obj, previous);
  return obj;
}

/** "Deleting a coupon does not affect any customers who have already applied the coupon" (the coupons API). */
function remove(req: ApiRequest): unknown {
  const { emulator } = req;
  const coupon = requireCoupon(emulator, req.pathParams.id, 'id');
  emulator.store.delete(COLLECTIONS.coupon, coupon.id);
  emulator.store.put(COLLECTIONS.deletedCoupon, coupon);
  emulator.emitEvent('coupon.deleted', coupon);
  return rememberDeleted(emulator, coupon.id, 'coupon');
}

function retrieve(req: ApiRequest): unknown {
  const { emulator } = req;
  const stub = deletedStub(emulator, req.pathParams.id);
  if (stub && !emulator.store.get(COLLECTIONS.coupon, req.pathParams.id)) return stub;
  return requireCoupon(emulator, req.pathParams.id, 'id');
}

function list(req: ApiRequest): unknown {
  const { emulator, input } = req;
  const created = input.range('created');
  const coupons = emulator.store.all(COLLECTIONS.coupon).filter((c) => !created || created(c.created));
  for (const coupon of coupons) refreshValidity(emulator, coupon);
  return paginate(coupons, input, req.path);
}

export const couponRoutes: Route[] = [
  { method: 'POST', path: '/v1/coupons', handler: create, params: COUPON_CREATE },
  {
    method: 'GET',
    path: '/v1/coupons',
    handler: list,
    params: ['limit', 'starting_after', 'ending_before', 'created'],
  },
  { method: 'GET', path: '/v1/coupons/:id', handler: retrieve },
  {
    method: 'POST',
    path: '/v1/coupons/:id',
    handler: update,
    params: ['currency_options', 'metadata', 'name'],
  },
  { method: 'DELETE', path: '/v1/coupons/:id', handler: remove },
];
