import type { EntityManager } from '@mikro-orm/postgresql';
import { Entitlement, Subscription } from '../../entities';
import { entitlementsOf as planEntitlements, type FeatureProvisioner } from '../feature-provisioner';
import type { MetricKey, MetricKind, OverLimitBehavior, Plan } from '../plans/plan.types';
import type { PlanCatalog } from '../plans/plan-catalog';
import { LIVE_STATUSES } from '../subscription-sync';
import type { BillingPeriodSource } from './usage-period';

/** What an account may do with one metric now. */
export interface MetricAllowance {
  metric: MetricKey;
  kind: MetricKind;
  enabled: boolean;
  /** Included per usage period (counters) or at any time (gauges); null = unlimited. */
  included: number | null;
  overLimit: OverLimitBehavior;
}

/**
 * Everything a feature check or a usage record needs to know about an account, read in one go and cached by
 * `FeatureGate`: the effective plan, the provisioned entitlements (plan plus admin overrides) and the
 * subscription's billing period (usage periods derive from it).
 */
export interface AccountAllowances {
  accountId: string;
  plan: Plan;
  billingPeriod: BillingPeriodSource | null;
  features: ReadonlyMap<string, boolean>;
  metrics: ReadonlyMap<MetricKey, MetricAllowance>;
}

/** Reads accounts' allowances: two indexed queries, however many accounts. */
export async function loadAccountAllowances(
  em: EntityManager,
  accountIds: string[],
  catalog: PlanCatalog,
  provisioner: FeatureProvisioner,
  now: Date,
): Promise<Map<string, AccountAllowances>> {
  const [subscriptions, stored] = await Promise.all([
    em.find(
      Subscription,
      { accountId: { $in: accountIds }, status: { $in: [...LIVE_STATUSES] } },
      // Ascending, so the newest live subscription of an account (should Stripe ever hold two) is kept last.
      { orderBy: { createdAt: 'asc' }, disableIdentityMap: true },
    ),
    em.find(Entitlement, { accountId: { $in: accountIds } }, { disableIdentityMap: true }),
  ]);
  const subscriptionOf = new Map(subscriptions.map((row) => [row.accountId, row]));
  const entitlementsOf = new Map<string, Entitlement[]>();
  for (const row of stored)
    entitlementsOf.set(row.accountId, [...(entitlementsOf.get(row.accountId) ?? []), row]);
  return new Map(
    accountIds.map((accountId) => [
      accountId,
      allowancesOf(
        accountId,
        subscriptionOf.get(accountId) ?? null,
        entitlementsOf.get(accountId) ?? [],
        catalog,
        provisioner,
        now,
      ),
    ]),
  );
}

function allowancesOf(
  accountId: string,
  subscription: Subscription | null,
  stored: Entitlement[],
  catalog: PlanCatalog,
  provisioner: FeatureProvisioner,
  now: Date,
): AccountAllowances {
  const plan = provisioner.effectivePlan(subscription, now);
  // An account never provisioned (no subscription, no override) has its plan's entitlements as they are.
  const entitlements =
    stored.length > 0
      ? stored.map((row) => ({ featureKey: row.featureKey, enabled: row.enabled, limit: row.limit }))
      : planEntitlements(plan);
  const byKey = new Map(entitlements.map((row) => [row.featureKey, row]));
  const features = new Map(
    Object.entries(plan.features).map(([key, enabled]) => [key, byKey.get(key)?.enabled ?? enabled]),
  );
  const metrics = new Map<MetricKey, MetricAllowance>();
  for (const limit of plan.limits) {
    const row = byKey.get(limit.metric);
    metrics.set(limit.metric, {
      metric: limit.metric,
      kind: catalog.metric(limit.metric).kind,
      enabled: row ? row.enabled : limit.included === null || limit.included > 0,
      included: row ? (row.limit === null ? null : Number(row.limit)) : limit.included,
      overLimit: limit.overLimit,
    });
  }
  return {
    accountId,
    plan,
    billingPeriod: subscription
      ? {
          currentPeriodStart: subscription.currentPeriodStart,
          currentPeriodEnd: subscription.currentPeriodEnd,
        }
      : null,
    features,
    metrics,
  };
}
