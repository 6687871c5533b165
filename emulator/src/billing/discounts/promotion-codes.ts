/**
 * `/v1/promotion_codes` (https://docs.stripe.com/api/promotion_codes): a customer-facing code over a coupon
 * (`promotion: {type: 'coupon', coupon}` in this API version, as the SDK's PromotionCode type has it), with its own
 * `max_redemptions`, `expires_at`, `customer` and `restrictions` (https://docs.stripe.com/billing/subscriptions/coupons#promotion-codes).
 */
import type Stripe from 'stripe';
import { COLLECTIONS } from '../../core/collections';
import { invalidRequest, missingParam, notFound } from '../../core/errors';
import type { ApiRequest, Route } from '../../core/http';
import { newId } from '../../core/ids';
import { paginate } from '../../core/list';
import type { ParamReader } from '../../core/params';
import { requireCustomer } from '../../resources/common';
import { idOf, type Emulator } from '../context';
import { requireCoupon } from './coupons';

const PROMOTION_CODE_CREATE = [
  'promotion',
  'active',
  'code',
  'customer',
  'customer_account',
  'expires_at',
  'max_redemptions',
  'metadata',
  'restrictions',
];

export function requirePromotionCode(
  emulator: Emulator,
  id: string,
  param = 'promotion_code',
): Stripe.PromotionCode {
  const promotionCode = emulator.store.get(COLLECTIONS.promotionCode, id);
  if (!promotionCode) throw notFound('promotion code', id, param);
  return promotionCode;
}

export function couponIdOfPromotionCode(promotionCode: Stripe.PromotionCode): string {
  return idOf(promotionCode.promotion.coupon) ?? '';
}

/**
 * The `code` field: "Regardless of case, this code must be unique across all active promotion codes for a specific
 * customer" (the PromotionCode object); codes are matched without regard to case.
 */
export function findActiveByCode(
  emulator: Emulator,
  code: string,
  customerId: string | null,
): Stripe.PromotionCode | undefined {
  const wanted = code.trim().toUpperCase();
  const matching = emulator.store
    .all(COLLECTIONS.promotionCode)
    .filter((p) => p.active && p.code.toUpperCase() === wanted);
  return (
    matching.find((p) => customerId !== null && idOf(p.customer) === customerId) ??
    matching.find((p) => p.customer === null) ??
    matching[0]
  );
}

function readRestrictions(input: ParamReader | undefined): Stripe.PromotionCode.Restrictions {
  const minimum = input?.int('minimum_amount') ?? null;
  const currency = input?.str('minimum_amount_currency')?.toLowerCase() ?? null;
  if (minimum !== null && currency === null) throw missingParam('restrictions[minimum_amount_currency]');
  const options = readMinimumOptions(input, {});
  return {
    ...(Object.keys(options).length > 0 ? { currency_options: options } : {}),
    first_time_transaction: input?.bool('first_time_transaction') ?? false,
    minimum_amount: minimum,
    minimum_amount_currency: minimum === null ? null : currency,
  };
}

/** `restrictions[currency_options][<currency>][minimum_amount]`: the minimum in other currencies. */
function readMinimumOptions(
  input: ParamReader | undefined,
  current: Record<string, Stripe.PromotionCode.Restrictions.CurrencyOptions>,
): Record<string, Stripe.PromotionCode.Restrictions.CurrencyOptions> {
  const options = input?.obj('currency_options');
  if (!options) return current;
  const out = { ...current };
  for (const currency of Object.keys(options.raw)) {
    out[currency.toLowerCase()] = { minimum_amount: options.obj(currency)?.reqInt('minimum_amount') ?? 0 };
  }
  return out;
}

function readCode(emulator: Emulator, input: ParamReader, customer: string | null): string {
  const code = input.str('code') ?? newId('').slice(1, 9).toUpperCase();
  if (!/^[a-zA-Z0-9_-]{1,500}$/.test(code)) {
    throw invalidRequest(
      'Promotion codes can only contain alphanumeric characters, dashes and underscores.',
      'code',
    );
  }
  const taken = emulator.store
    .all(COLLECTIONS.promotionCode)
    .some((p) => p.active && p.code.toUpperCase() === code.toUpperCase() && idOf(p.customer) === customer);
  if (taken) {
    throw invalidRequest(
      'An active promotion code with `code` already exists.',
      'code',
      'resource_already_exists',
    );
  }
  return code;
}

function create(req: ApiRequest): Stripe.PromotionCode {
  const { emulator, input } = req;
  const promotion = input.obj('promotion');
  if (!promotion) throw missingParam('promotion');
  promotion.oneOf('type', ['coupon'] as const);
  const coupon = requireCoupon(emulator, promotion.reqStr('coupon'), 'promotion[coupon]');
  const customer = input.str('customer') ? requireCustomer(emulator, input.reqStr('customer')).id : null;
  const promotionCode: Stripe.PromotionCode = {
    id: newId('promo'),
    object: 'promotion_code',
    active: input.bool('active') ?? true,
    code: readCode(emulator, input, customer),
    created: emulator.now(),
    customer,
    customer_account: null,
    expires_at: input.int('expires_at') ?? null,
    livemode: false,
    max_redemptions: input.int('max_redemptions') ?? null,
    metadata: input.metadata({}),
    promotion: { coupon: coupon.id, type: 'coupon' },
    restrictions: readRestrictions(input.obj('restrictions')),
    times_redeemed: 0,
  };
  emulator.store.insert(COLLECTIONS.promotionCode, promotionCode);
  emulator.emitEvent('promotion_code.created', promotionCode);
  return promotionCode;
}

function update(req: ApiRequest): Stripe.PromotionCode {
  const { emulator, input } = req;
  requirePromotionCode(emulator, req.pathParams.id, 'id');
  const { obj, previous } = emulator.store.update(COLLECTIONS.promotionCode, req.pathParams.id, (p) => {
    const active = input.bool('active');
    if (active !== undefined) p.active = active;
    if (input.has('metadata')) p.metadata = input.metadata(p.metadata ?? {});
    const restrictions = input.obj('restrictions');
    if (restrictions?.has('currency_options')) {
      p.restrictions.currency_options = readMinimumOptions(
        restrictions,
        p.restrictions.currency_options ?? {},
      );
    }
  });
  if (Object.keys(previous).length > 0) emulator.emitEvent('promotion_code.updated', obj, previous);
  return obj;
}

function list(req: ApiRequest): unknown {
  const { emulator, input } = req;
  const active = input.bool('active');
  const code = input.str('code')?.toUpperCase();
  const coupon = input.str('coupon');
  const customer = input.str('customer');
  const created = input.range('created');
  const codes = emulator.store.all(COLLECTIONS.promotionCode).filter((p) => {
    if (active !== undefined && p.active !== active) return false;
    if (code !== undefined && p.code.toUpperCase() !== code) return false;
    if (coupon !== undefined && couponIdOfPromotionCode(p) !== coupon) return false;
    if (customer !== undefined && idOf(p.customer) !== customer) return false;
    return !created || created(p.created);
  });
  return paginate(codes, input, req.path);
}

export const promotionCodeRoutes: Route[] = [
  { method: 'POST', path: '/v1/promotion_codes', handler: create, params: PROMOTION_CODE_CREATE },
  {
    method: 'GET',
    path: '/v1/promotion_codes',
    handler: list,
    params: [
      'limit',
      'starting_after',
      'ending_before',
      'active',
      'code',
      'coupon',
      'created',
      'customer',
      'customer_account',
    ],
  },
  {
    method: 'GET',
    path: '/v1/promotion_codes/:id',
    handler: (req) => requirePromotionCode(req.emulator, req.pathParams.id, 'id'),
  },
  {
    method: 'POST',
    path: '/v1/promotion_codes/:id',
    handler: update,
    params: ['active', 'metadata', 'restrictions'],
  },
];
