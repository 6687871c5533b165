import { Arg, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { toPlan, toPlanPrice } from '../graphql/mappers';
import { BillingInterval } from '../schema/enums';
import { OveragePrice, Plan, PlanPrice, PlanSeats } from '../schema/plan.type';
import type { CustomerCurrency } from '../services/accounts/customer-currency';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import type { PlanInterval } from '../services/plans/plan.types';
import { CURRENCY_ARGUMENT, callerCurrency, soldCurrency } from './shown-currency';

@Resolver(() => Plan)
export class PlanResolver {
  constructor(
    private readonly catalog: PlanCatalog,
    private readonly currencies: CustomerCurrency,
  ) {}

  @Query(() => [Plan], { description: 'Public: every plan, in the order of plans/plans.yaml' })
  plans(@Arg('currency', () => String, CURRENCY_ARGUMENT) currency?: string | null): Plan[] {
    const pricedIn = currency ? soldCurrency(this.catalog, currency) : null;
    return this.catalog.plans().map((plan) => toPlan(plan, pricedIn));
  }

  @FieldResolver(() => [PlanPrice], {
    description:
      'Empty for free (no price) and sales-led plans; amounts in one currency (see amount), and in all',
  })
  async prices(@Root() plan: Plan, @Ctx() context: RequestContext): Promise<PlanPrice[]> {
    const currency = await this.currencyOf(plan, context);
    return this.catalog
      .plan(plan.key)
      .prices.map((price) => toPlanPrice(price, currency, this.catalog.currencies));
  }

  @FieldResolver(() => PlanSeats, {
    nullable: true,
    description: 'Per-seat pricing, or null (seats are a fixed limit); prices in the currency of `prices`',
  })
  async seats(@Root() plan: Plan, @Ctx() context: RequestContext): Promise<PlanSeats | null> {
    const seats = this.catalog.plan(plan.key).seats;
    if (!seats) return null;
    const currency = await this.currencyOf(plan, context);
    return {
      included: seats.included,
      maximum: seats.maximum,
      prices: seats.prices.map((price) => toPlanPrice(price, currency, this.catalog.currencies)),
    };
  }

  @FieldResolver(() => [OveragePrice], {
    description:
      'The metered price of each metric the plan bills past its allowance, per interval the plan is sold in: what a page shows instead of hard-coding it',
  })
  async overagePrices(@Root() plan: Plan, @Ctx() context: RequestContext): Promise<OveragePrice[]> {
    const currency = await this.currencyOf(plan, context);
    const sold = this.catalog.plan(plan.key).prices.map((price) => price.interval);
    const intervals: PlanInterval[] = sold.length > 0 ? [...new Set(sold)] : ['month', 'year'];
    return this.catalog.overagePrices(plan.key).flatMap((price) =>
      intervals.map((interval) => {
        const unitAmountDecimal = price.unitAmountsDecimal[currency] ?? '0';
        return {
          metric: price.metric,
          unit: this.catalog.overageUnit(price.metric),
          interval: interval === 'year' ? BillingInterval.YEAR : BillingInterval.MONTH,
          unitAmount: /^\d+$/.test(unitAmountDecimal) ? Number(unitAmountDecimal) : null,
          unitAmountDecimal,
          currency,
        };
      }),
    );
  }

  /** The currency the plan was asked in, else the signed-in caller's account's, else the base. */
  private async currencyOf(plan: Plan, context: RequestContext): Promise<string> {
    if (plan.pricedIn) return plan.pricedIn;
    return callerCurrency(this.catalog, this.currencies, context);
  }
}
