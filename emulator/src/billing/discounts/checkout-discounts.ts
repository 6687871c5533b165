/**
 * Discounts on Checkout Sessions (https://docs.stripe.com/api/checkout/sessions/create): `discounts` ("The coupon or
 * promotion code to apply to this Session. Currently, only up to one may be specified") or `allow_promotion_codes`
 * ("Enables user redeemable promotion codes": the hosted page shows a promotion code box), never both. The session
 * shows what the customer pays now: each line's `amount_discount`, `total_details.amount_discount` and
 * `amount_total`. Completing the session redeems the discount: onto the subscription it creates (subscription mode),
 * or as a discount of the session itself (payment mode: the Discount object's `checkout_session` is "The Checkout
 * session that this coupon is applied to, if it is applied to a particular session in payment mode").
 */
import type Stripe from 'stripe';
import { invalidRequest } from '../../core/errors';
import { ParamReader } from '../../core/params';
import { type Emulator, idOf } from '../context';
import { priceProductId } from '../pricing';
import { couponShares } from './amounts';
import { requireCoupon } from './coupons';
import { findActiveByCode } from './promotion-codes';
import { type DiscountRequest, readDiscountRequests, redeemDiscounts } from './redeem';

type Session = Stripe.Checkout.Session;

/** What the customer pays now on a line: recurring and one-time lines alike (a metered line costs 0 up front). */
function sessionBases(session: Session): { amount: number; product: string | null }[] {
  return (session.line_items?.data ?? []).map((line) => ({
    amount: line.amount_subtotal,
    product: line.price ? priceProductId(line.price) : null,
  }));
}

function requestsOf(
  emulator: Emulator,
  session: Session,
  customer: Stripe.Customer | null,
): DiscountRequest[] {
  const readers = (session.discounts ?? []).map(
    (d, i) =>
      new ParamReader(
        d.promotion_code
          ? { promotion_code: idOf(d.promotion_code) ?? '' }
          : { coupon: idOf(d.coupon) ?? '' },
        `discounts[${i}]`,
      ),
  );
  const amount = sessionBases(session).reduce((sum, base) => sum + base.amount, 0);
  return readDiscountRequests(emulator, readers, { customer, currency: session.currency ?? 'usd', amount });
}

/**
 * Sets the session's discount (`coupon` or `promotion_code` ids, already checked) and its amounts: each line's
 * `amount_discount` / `amount_total`, `total_details.amount_discount` and `amount_total`.
 */
export function applySessionDiscount(session: Session, requests: readonly DiscountRequest[]): void {
  session.discounts = requests.map((r) => ({
    coupon: r.promotionCode ? null : r.coupon.id,
    promotion_code: r.promotionCode?.id ?? null,
  }));
  const lines = session.line_items?.data ?? [];
  const bases = sessionBases(session);
  for (const request of requests) {
    couponShares(request.coupon, session.currency ?? 'usd', bases).forEach((share, i) => {
      bases[i].amount -= share;
    });
  }
  lines.forEach((line, i) => {
    line.amount_discount = line.amount_subtotal - bases[i].amount;
    line.amount_total = bases[i].amount;
  });
  const discount = lines.reduce((sum, line) => sum + line.amount_discount, 0);
  if (session.total_details) session.total_details.amount_discount = discount;
  session.amount_total = (session.amount_subtotal ?? 0) - discount;
}

/** Reads `discounts` of a session create (checked as a redemption would be, nothing redeemed yet). */
export function readSessionDiscounts(
  emulator: Emulator,
  input: ParamReader,
  session: Session,
  customer: Stripe.Customer | null,
): DiscountRequest[] {
  const readers = input.objArray('discounts') ?? [];
  if (readers.length === 0) return [];
  if (input.bool('allow_promotion_codes') !== undefined) {
    throw invalidRequest(
      'You may only specify one of these parameters: allow_promotion_codes, discounts.',
      'discounts',
      'parameters_exclusive',
    );
  }
  if (readers.length > 1) throw invalidRequest('You may only specify one discount.', 'discounts');
  const amount = sessionBases(session).reduce((sum, base) => sum + base.amount, 0);
  return readDiscountRequests(emulator, readers, { customer, currency: session.currency ?? 'usd', amount });
}

/** A code typed into the hosted page's promotion code box: matched regardless of case, then checked. */
export function applyTypedCode(
  emulator: Emulator,
  session: Session,
  code: string,
  customer: Stripe.Customer | null,
): void {
  if (!session.allow_promotion_codes)
    throw invalidRequest('This Checkout Session does not accept promotion codes.');
  const found = findActiveByCode(emulator, code, customer?.id ?? null);
  if (!found) throw invalidRequest('This code is invalid.', 'promotion_code');
  requireCoupon(emulator, idOf(found.promotion.coupon) ?? '');
  const reader = new ParamReader({ promotion_code: found.id }, 'discounts[0]');
  const amount = sessionBases(session).reduce((sum, base) => sum + base.amount, 0);
  const requests = readDiscountRequests(emulator, [reader], {
    customer,
    currency: session.currency ?? 'usd',
    amount,
  });
  applySessionDiscount(session, requests);
}

/**
 * At completion: the session's discount checked again for the customer now known (a code may have been used up
 * meanwhile). Subscription mode hands the requests to the subscription it creates.
 */
export function completionDiscounts(
  emulator: Emulator,
  session: Session,
  customer: Stripe.Customer | null,
): DiscountRequest[] {
  return requestsOf(emulator, session, customer);
}

/** Payment mode, once paid: the discount is redeemed as the session's own. */
export function redeemForPaidSession(
  emulator: Emulator,
  session: Session,
  requests: readonly DiscountRequest[],
  customer: string | null,
): void {
  redeemDiscounts(emulator, requests, { customer, subscription: null, checkoutSession: session.id });
}
