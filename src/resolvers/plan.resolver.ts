import { FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { toPlan } from '../graphql/mappers';
import { BillingInterval } from '../schema/enums';
import { OveragePrice, Plan } from '../schema/plan.type';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import type { PlanInterval } from '../services/plans/plan.types';

@Resolver(() => Plan)
export class PlanResolver {
  constructor(private readonly catalog: PlanCatalog) {}

  @Query(() => [Plan], { description: 'Public: every plan, in the order of plans/plans.yaml' })
  plans(): Plan[] {
    return this.catalog.plans().map(toPlan);
  }

  @FieldResolver(() => [OveragePrice], {
    description:
      'The metered price of each metric the plan bills past its allowance, per interval the plan is sold in: what a page shows instead of hard-coding it',
  })
  overagePrices(@Root() plan: Plan): OveragePrice[] {
    const sold = plan.prices.map((price) => (price.interval === BillingInterval.YEAR ? 'year' : 'month'));
    const intervals: PlanInterval[] = sold.length > 0 ? [...new Set(sold)] : ['month', 'year'];
    return this.catalog.overagePrices(plan.key).flatMap((price) =>
      intervals.map((interval) => ({
        metric: price.metric,
        unit: this.catalog.metric(price.metric).unit,
        interval: interval === 'year' ? BillingInterval.YEAR : BillingInterval.MONTH,
        unitAmount: /^\d+$/.test(price.unitAmountDecimal) ? Number(price.unitAmountDecimal) : null,
        unitAmountDecimal: price.unitAmountDecimal,
        currency: price.currency,
      })),
    );
  }
}
