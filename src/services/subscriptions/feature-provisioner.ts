import type { EntityManager } from '@mikro-orm/postgresql';
import { Entitlement, EntitlementOverride, LIVE_STATUSES, Subscription } from '../../entities';
import { overLimitRuleOf } from '../usage/over-limit-rule';
import { type AllowanceChange, settleAllowances } from '../usage/allowance-settlement';
import type { EntitlementProvisioning } from '../usage/entitlement-provisioning';
import { usagePeriodAt } from '../usage/usage-period';
import type { Plan } from '../plans/plan.types';
import type { PlanCatalog } from '../plans/plan-catalog';
import { type CarriedAddon, entitlementsOf, type PlannedEntitlement } from '../plans/plan-entitlements';

const DAY_MS = 24 * 3600 * 1000;
/** The first key of the provisioning's advisory locks (the second is the account's hash). */
const PROVISIONING_LOCK_SPACE = 0x70726f76; // "prov"

/**
 * Decides which plan an account has now and stores its entitlements, so a feature check is one indexed read.
 * Runs in the same transaction as the subscription change that caused it.
 *
 * The effective plan: the subscription's while it is trialing or active; while it is past due or unpaid, still
 * the subscription's for a grace period (BILLING_GRACE_PERIOD_DAYS from when it fell past due), then free; and
 * free after cancellation, once the paid period is over (Stripe ends the subscription then).
 */
export class FeatureProvisioner implements EntitlementProvisioning {
  constructor(
    private readonly catalog: PlanCatalog,
    private readonly gracePeriodDays: number,
  ) {}

  effectivePlan(subscription: Subscription | null, now: Date): Plan {
    if (!subscription) return this.catalog.freePlan();
    const plan = this.catalog.find(subscription.planKey) ?? this.catalog.freePlan();
    if (subscription.status === 'trialing' || subscription.status === 'active') return plan;
    if (subscription.status === 'past_due' || subscription.status === 'unpaid') {
      const since = subscription.pastDueSince ?? now;
      return now.getTime() - since.getTime() < this.gracePeriodDays * DAY_MS ? plan : this.catalog.freePlan();
    }
    return this.catalog.freePlan();
  }

  /** When the grace period of a past-due subscription ends (for the sweeper), or null. */
  graceEndsAt(subscription: Subscription): Date | null {
    if (!subscription.pastDueSince) return null;
    return new Date(subscription.pastDueSince.getTime() + this.gracePeriodDays * DAY_MS);
  }

  /**
   * Recomputes and stores the account's entitlements (the plan's, with the account's admin overrides in place of
   * the plan's where it has any); returns the effective plan. Written as upserts, so two
   * provisionings of one account at the same moment (a mutation and its webhook) both succeed, last one wins.
   * Where a metric's allowance changes, the current usage period's allowance is weighed by time on each
   * (`settleAllowances`), in the same transaction, from `changedAt`: when the change happened (a webhook's event
   * time: the change may be processed long after it was made), `now` by default.
   */
  async provision(em: EntityManager, accountId: string, now: Date, changedAt: Date = now): Promise<Plan> {
    // The entitlements and the period's allowances change together, or not at all.
    if (!em.getTransactionContext())
      return em.transactional((tx) => this.provision(tx, accountId, now, changedAt));
    // Provisionings of one account one at a time (the lock is the transaction's): each reads the subscription and
    // the entitlements it replaces after the previous one committed. Without it a webhook's provisioning could read
    // the subscription before an upgrade committed and the entitlements after, and weigh the upgrade back.
    await em
      .getConnection()
      .execute(
        'select pg_advisory_xact_lock(?, hashtext(?))',
        [PROVISIONING_LOCK_SPACE, accountId],
        'all',
        em.getTransactionContext(),
      );
    // One after another: inside a transaction they share one connection.
    const subscription = await em.findOne(
      Subscription,
      { accountId, status: { $in: [...LIVE_STATUSES] } },
      { orderBy: { createdAt: 'desc' } },
    );
    const overrides = await em.find(EntitlementOverride, { accountId }, { disableIdentityMap: true });
    const before = await em.find(Entitlement, { accountId }, { disableIdentityMap: true });
    const plan = this.effectivePlan(subscription, now);
    const wanted = withOverrides(entitlementsOf(plan, this.carriedAddons(subscription, plan)), overrides);
    const provisionedFor = subscription?.stripeSubscriptionId ?? null;
    await em
      .createQueryBuilder(Entitlement)
      .insert(
        wanted.map((entitlement) => ({
          id: crypto.randomUUID(),
          accountId,
          ...entitlement,
          provisionedFor,
          createdAt: now,
          updatedAt: now,
        })),
      )
      .onConflict(['accountId', 'featureKey'])
      .merge(['enabled', 'limit', 'provisionedFor', 'updatedAt'])
      .execute();
    await em.nativeDelete(Entitlement, {
      accountId,
      featureKey: { $nin: wanted.map((row) => row.featureKey) },
    });
    await settleAllowances(em, {
      accountId,
      period: usagePeriodAt(subscription, now),
      changes: this.allowanceChanges(plan, subscription, before, wanted),
      at: changedAt < now ? changedAt : now,
      // Rows of another subscription (or of the free plan while one exists) governed other usage periods.
      samePeriod: before.length > 0 && before.every((row) => row.provisionedFor === provisionedFor),
    });
    return plan;
  }

  /**
   * The add-ons whose grants count: those of the subscription's items (as synced from Stripe) while the account
   * has the subscription's plan, and that plan may carry them. Past the grace period (free) they grant nothing.
   */
  carriedAddons(subscription: Subscription | null, plan: Plan): CarriedAddon[] {
    if (!subscription || subscription.planKey !== plan.key) return [];
    return subscription.addons.flatMap((item) => {
      const addon = this.catalog.findAddon(item.key);
      return addon?.plans.includes(plan.key) ? [{ addon, quantity: item.quantity }] : [];
    });
  }

  /** Each metric's allowance before and after (before: the stored rows, or the free plan's if none). */
  private allowanceChanges(
    plan: Plan,
    subscription: Subscription | null,
    before: Entitlement[],
    wanted: PlannedEntitlement[],
  ): AllowanceChange[] {
    const stored = new Map(
      before.map((row) => [row.featureKey, row.limit === null ? null : Number(row.limit)]),
    );
    const previous =
      before.length > 0
        ? stored
        : new Map(entitlementsOf(this.catalog.freePlan()).map((row) => [row.featureKey, row.limit]));
    const next = new Map(wanted.map((row) => [row.featureKey, row]));
    return plan.limits.map((limit) => {
      const from = previous.has(limit.metric) ? (previous.get(limit.metric) ?? null) : limit.included;
      const wantedRow = next.get(limit.metric);
      return {
        metric: limit.metric,
        kind: this.catalog.metric(limit.metric).kind,
        from,
        // A metric switched off takes no more use, and what it took stays billed as it was: its allowance holds.
        to: wantedRow?.enabled === false ? from : (wantedRow?.limit ?? null),
        overLimit: overLimitRuleOf(limit.overLimit, subscription?.status ?? null),
      };
    });
  }
}

/** An override replaces the plan's entitlement of its feature whole; overrides of unknown keys are ignored. */
function withOverrides(
  planned: PlannedEntitlement[],
  overrides: EntitlementOverride[],
): PlannedEntitlement[] {
  const byKey = new Map(overrides.map((override) => [override.featureKey, override]));
  return planned.map((entitlement) => {
    const override = byKey.get(entitlement.featureKey);
    return override
      ? {
          featureKey: entitlement.featureKey,
          enabled: override.enabled,
          limit: override.limit === null ? null : Number(override.limit),
        }
      : entitlement;
  });
}
