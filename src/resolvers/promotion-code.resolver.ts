import { Arg, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { toSubscription } from '../graphql/mappers';
import { ApplyPromotionCodeInput, SubscriptionDiscount } from '../schema/promotion-code.type';
import { BillingSubscription } from '../schema/subscription.type';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import type { SubscriptionPromotions } from '../services/promotions/subscription-promotions';
import { stripeRequired } from './stripe-required';

@Resolver(() => BillingSubscription)
export class PromotionCodeResolver {
  constructor(
    private readonly promotions: SubscriptionPromotions | null,
    private readonly catalog: PlanCatalog,
  ) {}

  @Mutation(() => BillingSubscription, {
    description:
      "Applies a promotion code to the caller's live subscription, from its next invoice on. A code that does not apply is refused with PROMOTION_CODE_NOT_APPLICABLE and extensions.reason; the code the subscription already has changes nothing",
  })
  async applyPromotionCode(
    @Arg('input', () => ApplyPromotionCodeInput) input: ApplyPromotionCodeInput,
    @Ctx() context: RequestContext,
  ): Promise<BillingSubscription> {
    const accountId = context.requireCaller().accountId;
    const applied = await stripeRequired(this.promotions).apply(context.em, accountId, input.code.trim());
    return toSubscription(applied, this.catalog);
  }

  @FieldResolver(() => SubscriptionDiscount, {
    nullable: true,
    description: 'The discount the subscription carries now (read from Stripe), or null',
  })
  async discount(@Root() subscription: BillingSubscription): Promise<SubscriptionDiscount | null> {
    if (!this.promotions) return null;
    const discount = await this.promotions.discountOf(subscription.id);
    if (!discount) return null;
    return {
      code: discount.code,
      name: discount.couponName,
      percentOff: discount.percentOff,
      amountOff: discount.amountOff,
      currency: discount.currency,
      duration: discount.duration,
      endsAt: discount.endsAt,
    };
  }
}
