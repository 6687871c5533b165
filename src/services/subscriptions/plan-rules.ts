import type { BillingInterval, Subscription } from '../../entities';
import { BadUserInputError, ForbiddenError } from '../../errors';
import type { PlanCatalog } from '../plans/plan-catalog';
import type { Plan } from '../plans/plan.types';
import type { PriceDirectory } from '../stripe/price-directory';

/** The catalog's rules every subscription change applies, and the facts it reads from the catalog. */
export class PlanRules {
  constructor(
    private readonly catalog: PlanCatalog,
    private readonly prices: PriceDirectory,
  ) {}

  planOrFail(planKey: string): Plan {
    const plan = this.catalog.find(planKey);
    if (!plan) throw new BadUserInputError(`Unknown plan ${planKey}`, 'planKey');
    return plan;
  }

  /** A plan's place in the catalog (the order customers see, cheapest first): what makes a change an upgrade. */
  rankOf(planKey: string): number {
    return this.catalog.plans().findIndex((plan) => plan.key === planKey);
  }

  /** A sales-led subscription (a contract) is changed, cancelled or resumed by an admin, never by the customer. */
  refuseSalesLed(current: Subscription, asAdmin: boolean): void {
    if (asAdmin || !this.catalog.find(current.planKey)?.salesLed) return;
    throw new ForbiddenError(
      `The ${current.planKey} subscription follows a contract: changes go through your account manager`,
    );
  }

  priceId(lookupKey: string): Promise<string> {
    return this.prices.priceId(lookupKey);
  }

  /** The price of one extra seat of a per-seat plan billed every `interval`, or null when it sells none. */
  async seatPriceId(plan: Plan, interval: BillingInterval): Promise<string | null> {
    const price = plan.seats?.prices.find((candidate) => candidate.interval === interval);
    return price ? this.prices.priceId(price.lookupKey) : null;
  }

  /** The metered overage prices a subscription to `plan` billed every `interval` carries (none for enterprise). */
  meteredPriceIds(plan: Plan, interval: BillingInterval): Promise<string[]> {
    return Promise.all(
      this.catalog.overageLookupKeys(plan.key, interval).map((lookupKey) => this.prices.priceId(lookupKey)),
    );
  }
}

/** The version of the state a change starts from: part of its idempotency key (see `stripe-client.ts`). */
export function versionOf(subscription: Subscription): string {
  return String(subscription.stripeUpdatedAt.getTime());
}
