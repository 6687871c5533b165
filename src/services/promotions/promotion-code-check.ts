import type Stripe from 'stripe';
import { PromotionCodeNotApplicableError, type PromotionCodeRefusal } from '../../errors';
import type { Plan } from '../plans/plan.types';
import { idOf } from '../stripe/expandable';
import type { StripeClient } from '../stripe/stripe-client';
import type { Clock } from '../time/clock';
import { someListed } from '../stripe/all-pages';

/** What a code would be redeemed for: the plan, the customer, and the first invoice before discounts. */
export interface RedemptionContext {
  plan: Plan;
  stripeCustomerId: string;
  /** The amount before discounts the minimum is compared with (Stripe: the first invoice's), minor units. */
  amountBeforeDiscount: number;
  currency: string;
}

/** A promotion code found in Stripe, with its coupon. */
export interface ApplicablePromotionCode {
  promotionCode: Stripe.PromotionCode;
  coupon: Stripe.Coupon;
}

/**
 * Decides whether a typed promotion code applies, from the code and its coupon as Stripe has them, before anything
 * is written. Stripe refuses the same codes (https://docs.stripe.com/billing/subscriptions/coupons#promotion-codes,
 * the PromotionCode object's `active`, `expires_at`, `max_redemptions`, `customer`, `restrictions`; the Coupon
 * object's `redeem_by`, `max_redemptions`, `valid`, `applies_to`), but its refusals are one
 * `invalid_request_error` without a `code` for all of them, so the reason a customer is shown is decided here.
 */
export class PromotionCodeCheck {
  constructor(
    private readonly stripe: StripeClient,
    private readonly clock: Clock,
  ) {}

  async applicable(code: string, context: RedemptionContext): Promise<ApplicablePromotionCode> {
    const refuse = (reason: PromotionCodeRefusal) => new PromotionCodeNotApplicableError(reason, code);
    const found = await this.find(code, context.stripeCustomerId);
    if (!found) throw refuse('unknown');
    const { promotionCode, coupon } = found;
    const now = Math.floor(this.clock.now().getTime() / 1000);
    if (isPast(promotionCode.expires_at, now) || isPast(coupon.redeem_by, now)) throw refuse('expired');
    if (usedUp(promotionCode.max_redemptions, promotionCode.times_redeemed)) throw refuse('max_redemptions');
    if (usedUp(coupon.max_redemptions, coupon.times_redeemed)) throw refuse('max_redemptions');
    if (!promotionCode.active || !coupon.valid) throw refuse('inactive');
    const products = coupon.applies_to?.products ?? [];
    if (products.length > 0 && !products.includes(context.plan.productKey ?? ''))
      throw refuse('plan_not_eligible');
    const minimum = minimumIn(promotionCode.restrictions, context.currency);
    if (minimum !== null && context.amountBeforeDiscount < minimum) throw refuse('minimum_not_met');
    if (
      promotionCode.restrictions.first_time_transaction &&
      (await this.hasPaidBefore(context.stripeCustomerId))
    ) {
      throw refuse('already_customer');
    }
    return found;
  }

  /**
   * The code with this text this customer may use: an active one first (Stripe keeps active codes unique
   * regardless of case), else the newest inactive one, so the answer can say "inactive" rather than "unknown".
   * A code made for another customer is unknown to this one.
   */
  private async find(code: string, stripeCustomerId: string): Promise<ApplicablePromotionCode | null> {
    // The coupon with its `applies_to` (returned only when expanded) comes with the code: one read, not two.
    const listed = await this.stripe.call('promotionCodes.list', (sdk) =>
      sdk.promotionCodes.list({ code, limit: 20, expand: ['data.promotion.coupon.applies_to'] }),
    );
    const usable = listed.data.filter((candidate) => {
      const onlyFor = idOf(candidate.customer);
      return onlyFor === null || onlyFor === stripeCustomerId;
    });
    const promotionCode = usable.find((candidate) => candidate.active) ?? usable[0];
    const coupon = promotionCode?.promotion.coupon;
    if (!promotionCode || !coupon || typeof coupon === 'string') return null;
    return { promotionCode, coupon };
  }

  /** The coupon with its `applies_to`, which Stripe returns only when expanded (the Coupon object). */
  coupon(couponId: string): Promise<Stripe.Coupon> {
    return this.stripe.call('coupons.retrieve', (sdk) =>
      sdk.coupons.retrieve(couponId, { expand: ['applies_to'] }),
    );
  }

  /**
   * "Customers without any successful payments or invoices" may redeem a first-time code (the PromotionCode
   * object's `restrictions.first_time_transaction`): a paid invoice with money on it, or a succeeded charge.
   */
  private async hasPaidBefore(stripeCustomerId: string): Promise<boolean> {
    // Page after page until one is found, not the first 100 alone: $0 invoices (trials) and declined charges,
    // which a customer can make at will, would otherwise hide an old payment and make the code first-time again.
    const paidInvoice = await someListed(
      (startingAfter) =>
        this.stripe.call('invoices.list', (sdk) =>
          sdk.invoices.list({
            customer: stripeCustomerId,
            status: 'paid',
            limit: 100,
            starting_after: startingAfter,
          }),
        ),
      (invoice) => invoice.amount_paid > 0,
    );
    if (paidInvoice) return true;
    return someListed(
      (startingAfter) =>
        this.stripe.call('charges.list', (sdk) =>
          sdk.charges.list({ customer: stripeCustomerId, limit: 100, starting_after: startingAfter }),
        ),
      (charge) => charge.status === 'succeeded',
    );
  }
}

function isPast(at: number | null, now: number): boolean {
  return at !== null && at <= now;
}

function usedUp(limit: number | null, used: number): boolean {
  return limit !== null && used >= limit;
}

/** The minimum in `currency`: `minimum_amount` in its currency, or a `currency_options` entry. */
function minimumIn(restrictions: Stripe.PromotionCode.Restrictions, currency: string): number | null {
  if (restrictions.minimum_amount !== null && restrictions.minimum_amount_currency === currency) {
    return restrictions.minimum_amount;
  }
  return restrictions.currency_options?.[currency]?.minimum_amount ?? null;
}
