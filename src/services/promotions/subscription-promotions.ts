import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { Subscription } from '../../entities';
import { PromotionCodeNotApplicableError } from '../../errors';
import type { AccountEvents } from '../accounts/account-events';
import { withAccountLock } from '../accounts/account-lock';
import type { PlanRules } from '../subscriptions/plan-rules';
import { versionOf } from '../subscriptions/plan-rules';
import { planItemOf } from '../subscriptions/subscription-items';
import { idOf } from '../stripe/expandable';
import type { SubscriptionStore } from '../subscriptions/subscription-store';
import type { StripeClient } from '../stripe/stripe-client';
import type { PromotionCodeCheck } from './promotion-code-check';

/** The discount a subscription carries, in our words. */
export interface SubscriptionDiscountView {
  /** The promotion code it came from, as the customer typed it (null for a coupon applied by an admin). */
  code: string | null;
  couponName: string | null;
  percentOff: number | null;
  /** Minor units of `currency`, for an amount-off coupon. */
  amountOff: number | null;
  currency: string | null;
  duration: Stripe.Coupon.Duration;
  /** When it stops applying (repeating coupons); null for once and forever. */
  endsAt: Date | null;
}

/** Where the subscription's discounts are read with their code and coupon (https://docs.stripe.com/api/expanding_objects). */
const DISCOUNT_EXPANSIONS = ['discounts', 'discounts.promotion_code'];

/**
 * Promotion codes on a live subscription. A code applies from the next invoice on (Stripe: a discount added to a
 * subscription applies to the invoices after it, https://docs.stripe.com/billing/subscriptions/coupons), through
 * `subscriptions.update` with `discounts: [{ promotion_code }]`. Codes do not stack: a subscription that has a
 * discount refuses another code (`already_discounted`, docs/billing-rules.md), and applying the code it already
 * has changes nothing.
 */
export class SubscriptionPromotions {
  constructor(
    private readonly stripe: StripeClient,
    private readonly store: SubscriptionStore,
    private readonly rules: PlanRules,
    private readonly check: PromotionCodeCheck,
    private readonly events: AccountEvents,
  ) {}

  async apply(em: EntityManager, accountId: string, code: string): Promise<Subscription> {
    const applied = await withAccountLock(em, accountId, async () => {
      const current = await this.store.requireLive(em, accountId);
      // A sales-led subscription follows its contract: its price is negotiated, not discounted by a code.
      this.rules.refuseSalesLed(current, false);
      const subscription = await this.retrieveWithDiscounts(current.stripeSubscriptionId);
      const discounts = activeDiscountsOf(subscription);
      // The code it already has: a retry, or the code given at Checkout typed again. Nothing to do.
      if (discounts.some((discount) => codeOf(discount)?.toUpperCase() === code.toUpperCase()))
        return current;
      if (discounts.length > 0) throw new PromotionCodeNotApplicableError('already_discounted', code);
      const planItem = planItemOf(subscription);
      const found = await this.check.applicable(code, {
        plan: this.rules.planOrFail(current.planKey),
        stripeCustomerId: idOf(subscription.customer),
        amountBeforeDiscount: (planItem?.price.unit_amount ?? 0) * (planItem?.quantity ?? 1),
        currency: subscription.currency,
      });
      const params: Stripe.SubscriptionUpdateParams = {
        discounts: [{ promotion_code: found.promotionCode.id }],
      };
      const updated = await this.stripe.call(
        'subscriptions.update',
        (sdk, options) => sdk.subscriptions.update(subscription.id, params, options),
        { name: `subscription.promotion-code:${subscription.id}:${versionOf(current)}`, params },
      );
      return this.store.storeWrittenFor(em, current, updated);
    });
    await this.events.accountUpdated(accountId, 'subscription.discounted');
    return applied;
  }

  /** The subscription's discount as Stripe has it now, or null. */
  async discountOf(stripeSubscriptionId: string): Promise<SubscriptionDiscountView | null> {
    const subscription = await this.retrieveWithDiscounts(stripeSubscriptionId);
    const [discount] = activeDiscountsOf(subscription);
    const couponId = idOf(discount?.source.coupon);
    if (!discount || !couponId) return null;
    const coupon = await this.check.coupon(couponId);
    return {
      code: codeOf(discount),
      couponName: coupon.name,
      percentOff: coupon.percent_off,
      amountOff: coupon.amount_off,
      currency: coupon.amount_off === null ? null : coupon.currency,
      duration: coupon.duration,
      endsAt: discount.end === null ? null : new Date(discount.end * 1000),
    };
  }

  private retrieveWithDiscounts(stripeSubscriptionId: string): Promise<Stripe.Subscription> {
    return this.stripe.call('subscriptions.retrieve', (sdk) =>
      sdk.subscriptions.retrieve(stripeSubscriptionId, { expand: DISCOUNT_EXPANSIONS }),
    );
  }
}

/** The subscription's discounts, expanded (Stripe lists ids unless `discounts` is expanded). */
function activeDiscountsOf(subscription: Stripe.Subscription): Stripe.Discount[] {
  return subscription.discounts.filter(
    (discount): discount is Stripe.Discount => typeof discount !== 'string',
  );
}

/** The text of the promotion code a discount came from (expanded), or null. */
function codeOf(discount: Stripe.Discount): string | null {
  const promotionCode = discount.promotion_code;
  return promotionCode && typeof promotionCode !== 'string' ? promotionCode.code : null;
}
