/**
 * Redeeming `discounts: [{coupon} | {promotion_code} | {discount}]` (subscriptions, Checkout, previews) into Discount
 * objects (https://docs.stripe.com/api/discounts/object). Reading checks everything and writes nothing, so a refused
 * code leaves no half-done change; redeeming then counts the redemptions and emits `customer.discount.created`.
 */
import type Stripe from 'stripe';
import { COLLECTIONS } from '../../core/collections';
import { invalidRequest, notFound } from '../../core/errors';
import type { ParamReader } from '../../core/params';
import { type Emulator, emit, id, idOf, now } from '../context';
import { customerIdOf } from '../invoices/invoice-objects';
import { addIntervals } from '../math';
import { amountOffIn, assertRedeemable, countRedemption, couponForDiscount, requireCoupon } from './coupons';
import { couponIdOfPromotionCode, requirePromotionCode } from './promotion-codes';

/** One entry of a `discounts` parameter, resolved. */
export interface DiscountRequest {
  coupon: Stripe.Coupon;
  promotionCode: Stripe.PromotionCode | null;
  /** `{discount: 'di_…'}`: an existing discount reused as it is. */
  existing: Stripe.Discount | null;
}

/** What the discounts will apply to, for the promotion code restrictions. */
export interface RedeemContext {
  customer: Stripe.Customer | null;
  currency: string;
  /** The amount before discounts the discounts first apply to (`restrictions.minimum_amount`). */
  amount: number;
}

export function readDiscountRequests(
  emulator: Emulator,
  readers: ParamReader[],
  context: RedeemContext,
): DiscountRequest[] {
  return readers.map((reader) => {
    const existingId = reader.str('discount');
    if (existingId) return existingDiscount(emulator, existingId, context, reader.name('discount'));
    const codeId = reader.str('promotion_code');
    if (codeId) {
      const promotionCode = requirePromotionCode(emulator, codeId, reader.name('promotion_code'));
      const coupon = requireCoupon(
        emulator,
        couponIdOfPromotionCode(promotionCode),
        reader.name('promotion_code'),
      );
      assertCodeRedeemable(emulator, promotionCode, context, reader.name('promotion_code'));
      assertRedeemable(emulator, coupon, reader.name('promotion_code'));
      assertCurrency(coupon, context, reader.name('promotion_code'));
      return { coupon, promotionCode, existing: null };
    }
    const coupon = requireCoupon(emulator, reader.reqStr('coupon'), reader.name('coupon'));
    assertRedeemable(emulator, coupon, reader.name('coupon'));
    assertCurrency(coupon, context, reader.name('coupon'));
    return { coupon, promotionCode: null, existing: null };
  });
}

/**
 * `{discount: 'di_…'}`: "ID of an existing discount on the object (or one of its ancestors) to reuse" (the SDK's
 * Discount params): one of the same customer's discounts, kept with its coupon even if that was deleted since.
 */
function existingDiscount(
  emulator: Emulator,
  discountId: string,
  context: RedeemContext,
  param: string,
): DiscountRequest {
  const existing = emulator.store.get(COLLECTIONS.discount, discountId);
  const coupon = existing ? couponForDiscount(emulator, idOf(existing.source.coupon) ?? '') : undefined;
  if (!existing || !coupon || idOf(existing.customer) !== (context.customer?.id ?? null)) {
    throw notFound('discount', discountId, param);
  }
  return { coupon, promotionCode: null, existing };
}

/** An amount-off coupon takes its amount off in its own currency only (the Coupon object's `currency`). */
function assertCurrency(coupon: Stripe.Coupon, context: RedeemContext, param: string): void {
  if (coupon.amount_off === null || amountOffIn(coupon, context.currency) !== null) return;
  throw invalidRequest(
    `The coupon's currency (${coupon.currency}) does not match the currency of this purchase (${context.currency}).`,
    param,
  );
}

/**
 * A promotion code's own limits (the PromotionCode object): `active`, `expires_at`, `max_redemptions`, `customer`
 * ("The customer that this promotion code can be used by") and `restrictions`: `first_time_transaction` ("only be
 * redeemed for Customers without any successful payments or invoices") and `minimum_amount` ("Minimum amount
 * required to redeem this Promotion Code into a Coupon (e.g., a purchase must be $100 or more to work)").
 */
function assertCodeRedeemable(
  emulator: Emulator,
  promotionCode: Stripe.PromotionCode,
  context: RedeemContext,
  param: string,
): void {
  const refuse = (message: string) => invalidRequest(message, param);
  if (!promotionCode.active) throw refuse('This promotion code is inactive.');
  if (promotionCode.expires_at !== null && promotionCode.expires_at <= now(emulator, context.customer?.id)) {
    throw refuse('This promotion code has expired.');
  }
  if (
    promotionCode.max_redemptions !== null &&
    promotionCode.times_redeemed >= promotionCode.max_redemptions
  ) {
    throw refuse('This promotion code has reached its maximum number of redemptions.');
  }
  const onlyFor = idOf(promotionCode.customer);
  if (onlyFor !== null && onlyFor !== context.customer?.id) {
    throw refuse('This promotion code cannot be redeemed by this customer.');
  }
  const firstTime = promotionCode.restrictions.first_time_transaction;
  const minimum = minimumAmountIn(promotionCode.restrictions, context.currency);
  if (firstTime && context.customer && hasPriorTransactions(emulator, context.customer.id)) {
    throw refuse(
      'This promotion code cannot be redeemed because the associated customer has prior transactions.',
    );
  }
  if (minimum !== null && context.amount < minimum) {
    throw refuse(
      'This promotion code cannot be redeemed because the order amount is below its minimum amount.',
    );
  }
}

/**
 * The minimum in `currency`: `minimum_amount` in `minimum_amount_currency`, or a `currency_options` entry
 * ("Promotion code restrictions defined in each available currency option", the PromotionCode object).
 */
function minimumAmountIn(restrictions: Stripe.PromotionCode.Restrictions, currency: string): number | null {
  if (restrictions.minimum_amount !== null && restrictions.minimum_amount_currency === currency) {
    return restrictions.minimum_amount;
  }
  return restrictions.currency_options?.[currency]?.minimum_amount ?? null;
}

/** "Customers without any successful payments or invoices": a paid invoice or a succeeded charge counts. */
export function hasPriorTransactions(emulator: Emulator, customerId: string): boolean {
  const paidInvoice = emulator.store
    .all(COLLECTIONS.invoice)
    .some(
      (invoice) =>
        customerIdOf(invoice) === customerId && invoice.status === 'paid' && invoice.amount_paid > 0,
    );
  return (
    paidInvoice ||
    emulator.store
      .all(COLLECTIONS.charge)
      .some((charge) => idOf(charge.customer) === customerId && charge.status === 'succeeded')
  );
}

/** Where new discounts are attached. */
export interface DiscountOwner {
  customer: string | null;
  subscription: string | null;
  checkoutSession: string | null;
}

/**
 * Turns the requests into discounts: a new Discount per coupon or code (its `end`, for a `repeating` coupon, is
 * `duration_in_months` after its start: the Discount object's `end`), counting `times_redeemed` on the coupon and
 * the code; a reused discount is returned as it is.
 */
export function redeemDiscounts(
  emulator: Emulator,
  requests: readonly DiscountRequest[],
  owner: DiscountOwner,
): Stripe.Discount[] {
  return requests.map((request) => {
    if (request.existing) return request.existing;
    const discount = buildDiscount(request, owner, now(emulator, owner.customer));
    emulator.store.insert(COLLECTIONS.discount, discount);
    countRedemption(emulator, request.coupon);
    if (request.promotionCode) {
      request.promotionCode.times_redeemed += 1;
      emulator.store.put(COLLECTIONS.promotionCode, request.promotionCode);
    }
    emit(emulator, 'customer.discount.created', discount);
    return discount;
  });
}

/** A discount as it would be made (previews build these without storing them). */
export function buildDiscount(
  request: DiscountRequest,
  owner: DiscountOwner,
  start: number,
): Stripe.Discount {
  const months = request.coupon.duration === 'repeating' ? request.coupon.duration_in_months : null;
  return {
    id: id('di'),
    object: 'discount',
    checkout_session: owner.checkoutSession,
    customer: owner.customer,
    customer_account: null,
    end: months ? addIntervals(start, 'month', months, 1) : null,
    invoice: null,
    invoice_item: null,
    promotion_code: request.promotionCode?.id ?? null,
    source: { coupon: request.coupon.id, type: 'coupon' },
    start,
    subscription: owner.subscription,
    subscription_item: null,
  };
}

/** A discount as `customer.discount.deleted` and the delete endpoints show it (the SDK's DeletedDiscount). */
export function asDeleted(discount: Stripe.Discount): Stripe.DeletedDiscount {
  return {
    id: discount.id,
    object: 'discount',
    checkout_session: discount.checkout_session,
    customer: discount.customer,
    customer_account: discount.customer_account,
    deleted: true,
    invoice: discount.invoice,
    invoice_item: discount.invoice_item,
    promotion_code: discount.promotion_code,
    source: discount.source,
    start: discount.start,
    subscription: discount.subscription,
    subscription_item: discount.subscription_item,
  };
}
