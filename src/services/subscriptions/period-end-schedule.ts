import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { BillingInterval, Subscription } from '../../entities';
import type { Plan } from '../plans/plan.types';
import type { StripeClient } from '../stripe/stripe-client';
import type { Clock } from '../time/clock';
import type { AddonEndings } from './addon-endings';
import { versionOf } from './plan-rules';
import {
  type AddonMove,
  addonPhaseItems,
  currentPhaseAsIs,
  newSubscriptionItems,
  type SeatsTarget,
  seatsItemOf,
} from './subscription-items';
import type { SubscriptionStore } from './subscription-store';
import { PLAN_KEY_METADATA } from './subscription-sync';

/** What the period end should bring: the plan and prices of the next phase, and the add-ons that go on. */
export interface PeriodEndChange {
  current: Subscription;
  stripeSubscription: Stripe.Subscription;
  target: Plan;
  interval: BillingInterval;
  priceId: string;
  meteredPriceIds: string[];
  /** The extra-seats item of the next phase (none when null). */
  seats: SeatsTarget;
  addonMoves: AddonMove[];
  /** What the period end does to the add-ons, kept on the row for the API (Stripe's subscription does not say). */
  endings: AddonEndings;
}

function seatsItemQuantity(subscription: Stripe.Subscription): number | undefined {
  return seatsItemOf(subscription)?.quantity;
}

/**
 * A change at the period end: a subscription schedule whose second phase holds the new plan price, its metered
 * prices and the add-ons that go on (a downgrade, a switch of interval, add-ons removed: ADR 0024).
 */
export async function schedulePeriodEnd(
  deps: { stripe: StripeClient; store: SubscriptionStore; clock: Clock },
  em: EntityManager,
  change: PeriodEndChange,
  automaticTax: { automatic_tax?: { enabled: true } } = {},
): Promise<Subscription> {
  const subscriptionId = change.stripeSubscription.id;
  const schedule = await deps.stripe.call(
    'subscriptionSchedules.create',
    (sdk, options) => sdk.subscriptionSchedules.create({ from_subscription: subscriptionId }, options),
    { name: `schedule.create:${subscriptionId}:${versionOf(change.current)}` },
  );
  const currentPhase = schedule.phases[0] as Stripe.SubscriptionSchedule.Phase;
  const phases: Stripe.SubscriptionScheduleUpdateParams.Phase[] = [
    currentPhaseAsIs(change.stripeSubscription, currentPhase),
    {
      items: [
        ...newSubscriptionItems(change.priceId, change.meteredPriceIds, change.seats),
        ...addonPhaseItems(change.addonMoves),
      ],
      duration: { interval: change.interval, interval_count: 1 },
      // The phase starts exactly at the period end, so there is no licensed time left to prorate; what this
      // setting still governs is the usage of metered items the new phase drops (another interval, or a plan
      // without overage): with `none` Stripe would never bill that period's overage.
      proration_behavior: 'create_prorations',
      metadata: { [PLAN_KEY_METADATA]: change.target.key },
      ...automaticTax,
    },
  ];
  await deps.stripe.call(
    'subscriptionSchedules.update',
    (sdk, options) =>
      sdk.subscriptionSchedules.update(schedule.id, { end_behavior: 'release', phases }, options),
    {
      name: `schedule.update:${schedule.id}`,
      params: {
        price: change.priceId,
        metered: change.meteredPriceIds,
        seats: change.seats,
        addons: change.addonMoves,
      },
    },
  );
  const observedAt = deps.clock.now();
  const subscription = await deps.store.retrieve(subscriptionId);
  const customer = await deps.store.customerOf(em, change.current);
  const stored = await deps.store.store(em, customer, subscription, observedAt);
  stored.scheduleId = schedule.id;
  stored.addonRemovals = [...change.endings.removals];
  stored.addonUnitsAtPeriodEnd = { ...change.endings.units };
  // A schedule that only removes add-ons changes no plan: nothing to show as a scheduled change.
  const planChanges = change.target.key !== stored.planKey || change.interval !== stored.interval;
  stored.scheduledPlanKey = planChanges ? change.target.key : null;
  stored.scheduledInterval = planChanges ? change.interval : null;
  stored.scheduledChangeAt = planChanges ? new Date(currentPhase.end_date * 1000) : null;
  // Seats removed for the period end stay removed in a schedule that changes no plan (`seatsKept`); a plan change
  // carries the seats paid for onto the new plan, which `scheduledPlanKey` already shows.
  const nextExtraSeats = change.seats?.quantity ?? 0;
  stored.scheduledExtraSeats =
    !planChanges && nextExtraSeats !== (seatsItemQuantity(subscription) ?? 0) ? nextExtraSeats : null;
  await em.flush();
  return stored;
}
