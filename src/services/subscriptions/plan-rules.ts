import type Stripe from 'stripe';
import { type AddonEndings, NO_ENDINGS } from './addon-endings';
import type { BillingInterval, Subscription } from '../../entities';
import { BadUserInputError, ForbiddenError } from '../../errors';
import type { PlanCatalog } from '../plans/plan-catalog';
import type { Plan } from '../plans/plan.types';
import type { PriceDirectory } from '../stripe/price-directory';
import { type AddonMove, addonKeyOf } from './subscription-items';

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

  /**
   * Where each add-on item of `subscription` goes on a move to `plan` billed every `interval` (ADR 0024): to the
   * add-on's price of that interval when the plan may carry it, else away (docs/billing-rules.md row 52); the keys
   * in `removed` go away too (the customer removed them: they end with the period).
   */
  async addonMoves(
    subscription: Stripe.Subscription,
    plan: Plan,
    interval: BillingInterval,
    endings: AddonEndings = NO_ENDINGS,
  ): Promise<AddonMove[]> {
    const moves: AddonMove[] = [];
    for (const item of subscription.items.data) {
      const key = addonKeyOf(item);
      if (!key) continue;
      const addon = this.catalog.findAddon(key);
      const price =
        addon?.plans.includes(plan.key) && !endings.removals.includes(key)
          ? addon.prices.find((candidate) => candidate.interval === interval)
          : undefined;
      // Staying on its interval, the item keeps the price it has (a new amount in the file is for new buyers).
      const keeps = price && item.price.recurring?.interval === interval;
      const priceId = keeps ? item.price.id : price ? await this.prices.priceId(price.lookupKey) : null;
      moves.push({ itemId: item.id, key, quantity: endings.units[key] ?? item.quantity ?? 1, priceId });
    }
    return moves;
  }
}

/** The version of the state a change starts from: part of its idempotency key (see `stripe-client.ts`). */
export function versionOf(subscription: Subscription): string {
  return String(subscription.stripeUpdatedAt.getTime());
}
