import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { CreditPack, ModelPrice } from '../schema/rate-card.type';
import type { CustomerCurrency } from '../services/accounts/customer-currency';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import { amountIn } from '../services/plans/plan.types';
import type { Clock } from '../services/time/clock';
import { CURRENCY_ARGUMENT, callerCurrency, soldCurrency } from './shown-currency';

/** Public reads of what credits cost and what model calls cost in credits (plans.yaml, issue 17). */
@Resolver()
export class RateCardResolver {
  constructor(
    private readonly catalog: PlanCatalog,
    private readonly currencies: CustomerCurrency,
    private readonly clock: Clock,
  ) {}

  @Query(() => [CreditPack], { description: 'Public: every credit pack, in the order of plans/plans.yaml' })
  async creditPacks(
    @Ctx() context: RequestContext,
    @Arg('currency', () => String, CURRENCY_ARGUMENT)
    currency?: string | null,
  ): Promise<CreditPack[]> {
    const shownIn = currency
      ? soldCurrency(this.catalog, currency)
      : await callerCurrency(this.catalog, this.currencies, context);
    const everyCurrency = this.catalog.currencies;
    return this.catalog.creditPacks().map((pack) => ({
      key: pack.key,
      name: pack.name,
      credits: pack.credits,
      price: { amount: amountIn(pack.amounts, shownIn), currency: shownIn },
      amounts: everyCurrency.map((each) => ({ amount: amountIn(pack.amounts, each), currency: each })),
      lookupKey: pack.lookupKey,
      expiresAfterDays: pack.expiresAfterDays,
    }));
  }

  @Query(() => [ModelPrice], {
    description:
      'Public: what each model costs in credits now, with the next price when one is scheduled; a model not priced yet is left out',
  })
  modelPrices(): ModelPrice[] {
    return this.catalog.rateCard.pricesAt(this.clock.now()).map(({ model, current, next }) => ({
      model,
      inputCreditsPerMillion: current.inputCreditsPerMillion,
      outputCreditsPerMillion: current.outputCreditsPerMillion,
      effectiveFrom: current.effectiveFrom,
      next: next && {
        inputCreditsPerMillion: next.inputCreditsPerMillion,
        outputCreditsPerMillion: next.outputCreditsPerMillion,
        effectiveFrom: next.effectiveFrom,
      },
    }));
  }
}
