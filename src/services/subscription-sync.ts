import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import {
  type BillingCustomer,
  type BillingInterval,
  Subscription,
  type SubscriptionStatus,
} from '../entities';
import type { PlanCatalog } from './plans/plan-catalog';
import { planItemOf } from './subscription-items';

/** Statuses in which a subscription still gives its plan (past_due only within the grace period, see issue 5). */
export const LIVE_STATUSES: readonly SubscriptionStatus[] = [
  'trialing',
  'active',
  'past_due',
  'unpaid',
  'incomplete',
  'paused',
];

/** The subscription metadata key that names the plan (enterprise subscriptions have custom prices). */
export const PLAN_KEY_METADATA = 'plan_key';

/**
 * Writes Stripe's view of a subscription into our table. The write only applies when what we read is newer
 * than what the row holds (`stripeUpdatedAt`), so a slow request or a late webhook never rolls state back.
 */
export class SubscriptionSync {
  constructor(private readonly catalog: PlanCatalog) {}

  async apply(
    em: EntityManager,
    customer: BillingCustomer,
    subscription: Stripe.Subscription,
    observedAt: Date,
  ): Promise<Subscription> {
    // The plan item, not items.data[0]: metered overage items sit beside it and name no plan.
    const item = planItemOf(subscription) ?? subscription.items.data[0];
    const price = item?.price;
    const row = {
      stripeSubscriptionId: subscription.id,
      customer: customer.id,
      accountId: customer.accountId,
      status: subscription.status as SubscriptionStatus,
      planKey: this.planKeyOf(subscription),
      priceId: price?.id ?? null,
      interval: (price?.recurring?.interval === 'year' ? 'year' : 'month') as BillingInterval,
      currentPeriodStart: seconds(item?.current_period_start),
      currentPeriodEnd: seconds(item?.current_period_end),
      cancelAtPeriodEnd: subscription.cancel_at_period_end || subscription.cancel_at !== null,
      canceledAt: seconds(subscription.canceled_at),
      endedAt: seconds(subscription.ended_at),
      trialStart: seconds(subscription.trial_start),
      trialEnd: seconds(subscription.trial_end),
      scheduleId:
        typeof subscription.schedule === 'string'
          ? subscription.schedule
          : (subscription.schedule?.id ?? null),
      stripeUpdatedAt: observedAt,
    };
    const changing = Object.keys(row).filter((key) => key !== 'stripeSubscriptionId');
    await em
      .createQueryBuilder(Subscription)
      .insert({ ...row, id: crypto.randomUUID(), createdAt: observedAt, updatedAt: new Date() })
      .onConflict('stripeSubscriptionId')
      .merge([...changing, 'updatedAt'] as Array<keyof Subscription>)
      .where({ stripeUpdatedAt: { $lte: observedAt } })
      .execute();
    const stored = await em.findOneOrFail(
      Subscription,
      { stripeSubscriptionId: subscription.id },
      { refresh: true },
    );
    // The grace period runs from the first time we saw it past due; paying (or a new trial) ends it.
    const overdue = stored.status === 'past_due' || stored.status === 'unpaid';
    if (overdue && !stored.pastDueSince) stored.pastDueSince = observedAt;
    if (!overdue && stored.pastDueSince) stored.pastDueSince = null;
    // A scheduled change is over once its schedule is gone, or once the subscription is on the new plan (the
    // schedule itself lives on through its last phase before it releases).
    const reached =
      stored.planKey === stored.scheduledPlanKey && stored.interval === stored.scheduledInterval;
    if (stored.scheduledPlanKey && (!stored.scheduleId || reached)) {
      stored.scheduledPlanKey = null;
      stored.scheduledInterval = null;
      stored.scheduledChangeAt = null;
    }
    await em.flush();
    return stored;
  }

  /** The plan a subscription is for: our metadata first (custom enterprise prices), else its price's lookup key. */
  planKeyOf(subscription: Stripe.Subscription): string {
    const fromMetadata = subscription.metadata?.[PLAN_KEY_METADATA];
    const price = planItemOf(subscription)?.price;
    // An old price keeps the plan it was made for in its metadata after its lookup key moved to a new amount.
    const fromPrice =
      (price?.lookup_key ? this.catalog.planForLookupKey(price.lookup_key)?.key : undefined) ??
      (price?.metadata?.coditect_plan && this.catalog.find(price.metadata.coditect_plan)?.key);
    // The price wins over metadata once they differ: a scheduled downgrade changes the price, not the metadata.
    return fromPrice || fromMetadata || this.catalog.freePlan().key;
  }
}

function seconds(value: number | null | undefined): Date | null {
  return typeof value === 'number' ? new Date(value * 1000) : null;
}
