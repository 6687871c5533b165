import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { isNoOlderThan, readNoLaterThan } from '../../database/newest-read';
import type { PreparedSql } from '../../database/prepared-transaction';
import {
  type BillingCustomer,
  type BillingInterval,
  Subscription,
  type SubscriptionAddon,
  type SubscriptionStatus,
} from '../../entities';
import type { PlanCatalog } from '../plans/plan-catalog';
import { CREDITS_OVERAGE } from '../plans/plan.types';
import { idOf } from '../stripe/expandable';
import { PLAN_PRICE_METADATA } from '../stripe/metadata-keys';
import {
  applyToKnownSubscription,
  type PlanInputs,
  type SubscriptionFields,
} from './known-subscription-statement';
import { addonKeyOf, planItemAmong, planItemOf, seatsItemOf } from './subscription-items';

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
    const row = this.rowOf(customer, subscription, observedAt);
    await this.upsert(em, row, observedAt);
    const stored = await em.findOneOrFail(
      Subscription,
      { stripeSubscriptionId: subscription.id },
      { refresh: true },
    );
    settleDerivedFields(stored, observedAt);
    await em.flush();
    return stored;
  }

  /**
   * `apply` for a caller inside a transaction that wants to know whether the account's plan may have changed
   * (the webhook path, issue 8): the row is read locked (the latest committed state, which a concurrent event
   * about the same subscription may just have written), compared, and only its changed columns are written.
   * The plan may have changed when the row is new or its status, plan or past-due start changed, and always
   * while it is past due or unpaid (the grace period depends on the clock, not only on the row).
   *
   * Same guard as `apply`: nothing is written when the row holds a later read than `observedAt`. The read time
   * itself is written even when nothing else changed, so a slower handler that read earlier still loses.
   */
  async applyLocked(
    em: EntityManager,
    customer: BillingCustomer,
    subscription: Stripe.Subscription,
    observedAt: Date,
  ): Promise<{ subscription: Subscription; entitlementsMayChange: boolean; changedAt: Date | null }> {
    const existing = await em.findOne(
      Subscription,
      { stripeSubscriptionId: subscription.id },
      { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
    );
    // New to us (or inserted concurrently since): the insert-or-update path, and the plan may have changed.
    if (!existing)
      return {
        subscription: await this.apply(em, customer, subscription, observedAt),
        entitlementsMayChange: true,
        changedAt: null,
      };
    const overdue = existing.status === 'past_due' || existing.status === 'unpaid';
    if (!isNoOlderThan(existing, observedAt))
      return { subscription: existing, entitlementsMayChange: overdue, changedAt: null };
    const before = planInputsKey(existing);
    const scheduled = {
      planKey: existing.scheduledPlanKey,
      interval: existing.scheduledInterval,
      at: existing.scheduledChangeAt,
    };
    const {
      customer: _customerId,
      stripeSubscriptionId: _id,
      ...fields
    } = this.rowOf(customer, subscription, observedAt);
    // Assigned, not rewritten: the unit of work updates only the columns whose values differ.
    Object.assign(existing, fields);
    existing.customer = customer;
    settleDerivedFields(existing, observedAt);
    await em.flush();
    const after = planInputsKey(existing);
    const overdueNow = existing.status === 'past_due' || existing.status === 'unpaid';
    return {
      subscription: existing,
      entitlementsMayChange: overdueNow || overdue || before !== after,
      changedAt: scheduledChangeReachedAt(scheduled, existing),
    };
  }

  /**
   * `applyLocked` for the webhook path's commonest case, a subscription we store whose customer we know, in one
   * statement below the ORM (`known-subscription-statement.ts`: why, and the test that holds the two paths
   * equal). Answers the account and whether its plan may have changed, exactly as `applyLocked` would; null
   * when the customer or the row is not ours yet: then the caller takes `CustomerSync.ownerOf` and `applyLocked`.
   * `em` is the event's transaction: the ORM's, or the statements of one opened below it (the queue's hot path).
   */
  async applyToKnownRow(
    em: EntityManager | PreparedSql,
    subscription: Stripe.Subscription,
    observedAt: Date,
  ): Promise<{ accountId: string; entitlementsMayChange: boolean; changedAt: Date | null } | null> {
    const stripeCustomerId = idOf(subscription.customer);
    if (!stripeCustomerId) return null;
    const fields = this.fieldsOf(subscription, observedAt);
    const outcome = await applyToKnownSubscription(em, stripeCustomerId, subscription.id, fields, new Date());
    if (!outcome) return null;
    const { before, after } = outcome;
    const entitlementsMayChange =
      isOverdue(before.status) ||
      (after !== null && (isOverdue(after.status) || planInputsKey(before) !== planInputsKey(after)));
    return {
      accountId: outcome.accountId,
      entitlementsMayChange,
      changedAt: outcome.scheduledChangeReachedAt,
    };
  }

  /** Our row's columns for Stripe's subscription, as read at `observedAt`. */
  private rowOf(customer: BillingCustomer, subscription: Stripe.Subscription, observedAt: Date) {
    return {
      stripeSubscriptionId: subscription.id,
      customer: customer.id,
      accountId: customer.accountId,
      ...this.fieldsOf(subscription, observedAt),
    };
  }

  /** The columns read from Stripe's subscription (all but its id and owner), as read at `observedAt`. */
  private fieldsOf(subscription: Stripe.Subscription, observedAt: Date): SubscriptionFields {
    // The plan item, not items.data[0]: metered overage items sit beside it and name no plan.
    const item = planItemOf(subscription) ?? subscription.items.data[0];
    const price = item?.price;
    return {
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
      ...this.pendingChangeOf(subscription),
      addons: this.addonsOf(subscription),
      // The seats bought beyond the plan's: what the `seats` limit of a per-seat plan adds to its included ones.
      extraSeats: seatsItemOf(subscription)?.quantity ?? 0,
      creditsOverageItem: this.carriesCreditsOverage(subscription),
      stripeUpdatedAt: observedAt,
    };
  }

  /** Whether an item is the `ai_credits` metered price (its lookup key, of either interval). */
  private carriesCreditsOverage(subscription: Stripe.Subscription): boolean {
    const price = this.catalog.meteredPrice(CREDITS_OVERAGE);
    if (!price) return false;
    const keys = new Set([price.lookupKey, price.yearlyLookupKey]);
    return subscription.items.data.some((item) => keys.has(item.price.lookup_key ?? ''));
  }

  /** The subscription's add-on items of the catalog's add-ons (ADR 0024: the price's `coditect_addon` says). */
  private addonsOf(subscription: Stripe.Subscription): SubscriptionAddon[] {
    return subscription.items.data.flatMap((item) => {
      const key = addonKeyOf(item);
      if (!key || !this.catalog.findAddon(key)) return [];
      return [
        {
          key,
          quantity: item.quantity ?? 1,
          priceId: item.price.id,
          unitAmount: item.price.unit_amount ?? 0,
          currency: item.price.currency,
          interval: (item.price.recurring?.interval === 'year' ? 'year' : 'month') as BillingInterval,
        },
      ];
    });
  }

  /**
   * The change waiting in Stripe's `pending_update` for its invoice to be paid: the plan its items move to (named
   * by the price, as `planKeyOf` does: the pending update's metadata is not the subscription's until applied).
   */
  private pendingChangeOf(subscription: Stripe.Subscription) {
    const pending = subscription.pending_update;
    const price = planItemAmong(pending?.subscription_items ?? [])?.price;
    const planKey = price ? this.planKeyOfPrice(price) : undefined;
    if (!pending || !planKey)
      return { pendingPlanKey: null, pendingInterval: null, pendingChangeExpiresAt: null };
    return {
      pendingPlanKey: planKey,
      pendingInterval: (price?.recurring?.interval === 'year' ? 'year' : 'month') as BillingInterval,
      pendingChangeExpiresAt: new Date(pending.expires_at * 1000),
    };
  }

  /** Insert, or update only if what we read is newer than what the row holds (`stripeUpdatedAt`). */
  private async upsert(em: EntityManager, row: ReturnType<SubscriptionSync['rowOf']>, observedAt: Date) {
    const changing = Object.keys(row).filter((key) => key !== 'stripeSubscriptionId');
    await em
      .createQueryBuilder(Subscription)
      .insert({ ...row, id: crypto.randomUUID(), createdAt: observedAt, updatedAt: new Date() })
      .onConflict('stripeSubscriptionId')
      .merge([...changing, 'updatedAt'] as Array<keyof Subscription>)
      .where(readNoLaterThan(observedAt))
      .execute();
  }

  /** The plan a subscription is for: our metadata first (custom enterprise prices), else its price's lookup key. */
  planKeyOf(subscription: Stripe.Subscription): string {
    const fromMetadata = subscription.metadata?.[PLAN_KEY_METADATA];
    const price = planItemOf(subscription)?.price;
    const fromPrice = price ? this.planKeyOfPrice(price) : undefined;
    // The price wins over metadata once they differ: a scheduled downgrade changes the price, not the metadata.
    return fromPrice || fromMetadata || this.catalog.freePlan().key;
  }

  /** The catalog plan a price is for, if it is one of ours (an enterprise custom price is not). */
  private planKeyOfPrice(price: Stripe.Price): string | undefined {
    // An old price keeps the plan it was made for in its metadata after its lookup key moved to a new amount.
    return (
      (price.lookup_key ? this.catalog.planForLookupKey(price.lookup_key)?.key : undefined) ??
      (price.metadata?.[PLAN_PRICE_METADATA]
        ? this.catalog.find(price.metadata[PLAN_PRICE_METADATA])?.key
        : undefined)
    );
  }
}

/** What `FeatureProvisioner.effectivePlan` reads from a subscription row (besides the clock), as one key. */
function planInputsKey(row: PlanInputs): string {
  const addons = row.addons.map((addon) => `${addon.key}x${addon.quantity}`).join(',');
  return `${row.accountId}|${row.status}|${row.planKey}|${row.extraSeats}|${row.pastDueSince?.getTime() ?? ''}|${addons}|${row.creditsOverageItem}`;
}

function isOverdue(status: SubscriptionStatus): boolean {
  return status === 'past_due' || status === 'unpaid';
}

/**
 * When the change scheduled on the row (`scheduled`, as it was before this write) took effect, if this write finds
 * the subscription on it: the moment it was scheduled for (the renewal), whichever later read brings it. Weighed
 * from the read's event instead (a renewal's invoice paid an hour after the renewal, processed before the renewal's
 * own event), the period kept an hour of the old plan's allowance. Null when no scheduled change was reached.
 */
function scheduledChangeReachedAt(
  scheduled: { planKey: string | null; interval: BillingInterval | null; at: Date | null },
  written: Pick<Subscription, 'planKey' | 'interval'>,
): Date | null {
  if (!scheduled.planKey || scheduled.planKey !== written.planKey) return null;
  return scheduled.interval === written.interval ? scheduled.at : null;
}

/** Fields we derive from the stored state rather than copy from Stripe. */
function settleDerivedFields(stored: Subscription, observedAt: Date): void {
  // The grace period runs from the first time we saw it past due; paying (or a new trial) ends it.
  const overdue = stored.status === 'past_due' || stored.status === 'unpaid';
  if (overdue && !stored.pastDueSince) stored.pastDueSince = observedAt;
  if (!overdue && stored.pastDueSince) stored.pastDueSince = null;
  // A scheduled change is over once its schedule is gone, or once the subscription is on the new plan (the
  // schedule itself lives on through its last phase before it releases). A cancellation at the period end
  // releases the schedule but not the customer's choice: a resume schedules the downgrade again.
  const reached = stored.planKey === stored.scheduledPlanKey && stored.interval === stored.scheduledInterval;
  const suspended = stored.cancelAtPeriodEnd && !stored.scheduleId;
  if (stored.scheduledPlanKey && (reached || (!stored.scheduleId && !suspended))) {
    stored.scheduledPlanKey = null;
    stored.scheduledInterval = null;
    stored.scheduledChangeAt = null;
  }
  // A removed add-on is over once it is gone from the items; a schedule released (by a change of ours that did not
  // schedule it again, or in the Dashboard) takes the removal with it, as it takes a scheduled change.
  const carried = new Set(stored.addons.map((addon) => addon.key));
  const removals =
    !stored.scheduleId && !suspended ? [] : stored.addonRemovals.filter((key) => carried.has(key));
  if (removals.length !== stored.addonRemovals.length) stored.addonRemovals = removals;
  // Fewer units of an add-on: over once the item holds that number (or is gone), or once the schedule is.
  const quantities = new Map(stored.addons.map((addon) => [addon.key, addon.quantity]));
  const unitsLeft = Object.entries(stored.addonUnitsAtPeriodEnd).filter(
    ([key, units]) =>
      (stored.scheduleId || suspended) && quantities.has(key) && quantities.get(key) !== units,
  );
  if (unitsLeft.length !== Object.keys(stored.addonUnitsAtPeriodEnd).length)
    stored.addonUnitsAtPeriodEnd = Object.fromEntries(unitsLeft);
  // Seats removed at the period end: over once the subscription holds that number, or once the schedule is gone.
  const seatsReached = stored.extraSeats === stored.scheduledExtraSeats;
  if (stored.scheduledExtraSeats !== null && (seatsReached || !stored.scheduleId))
    stored.scheduledExtraSeats = null;
}

function seconds(value: number | null | undefined): Date | null {
  return typeof value === 'number' ? new Date(value * 1000) : null;
}
