import type { EntityManager } from '@mikro-orm/postgresql';
import {
  BillingCustomer,
  Entitlement,
  LIVE_STATUSES,
  Subscription,
  type SubscriptionStatus,
  UsageCounter,
} from '../../entities';
import { entitlementsOf as planEntitlements } from '../plans/plan-entitlements';
import type { EntitlementProvisioning } from './entitlement-provisioning';
import type { MetricKey, MetricKind, OverLimitBehavior, Plan } from '../plans/plan.types';
import type { PlanCatalog } from '../plans/plan-catalog';
import { overLimitRuleOf } from './over-limit-rule';
import { type BillingPeriodSource, type UsagePeriod, usagePeriodAt } from './usage-period';

/** What an account may do with one metric now. */
export interface MetricAllowance {
  metric: MetricKey;
  kind: MetricKind;
  enabled: boolean;
  /** Included per usage period (counters) or at any time (gauges), by the plan or an override; null = unlimited. */
  included: number | null;
  /**
   * What happens past `included` now: the plan's rule, except that nothing is billed past the allowance while
   * the subscription is trialing (Stripe bills no usage accrued in a trial) or past due (nothing is collected):
   * then use past it is refused.
   */
  overLimit: OverLimitBehavior;
  /**
   * The allowance of the usage period current when this was read, if its counter exists (a plan change inside
   * the period weighs it: it may differ from `included`); `periodAllowanceOf` picks the right one.
   */
  period: { start: Date; included: number | null } | null;
}

/** The allowance of `period` for a metric: the period's counter's when it is known, else the plan's. */
export function periodAllowanceOf(allowance: MetricAllowance, period: UsagePeriod): number | null {
  return allowance.period && allowance.period.start.getTime() === period.start.getTime()
    ? allowance.period.included
    : allowance.included;
}

/**
 * Everything a feature check or a usage record needs to know about an account, read in one go and cached by
 * `FeatureGate`: the effective plan, the provisioned entitlements (plan plus admin overrides) and the
 * subscription's billing period (usage periods derive from it).
 */
export interface AccountAllowances {
  accountId: string;
  plan: Plan;
  /** The live subscription's status, or null on the free plan without one. */
  subscriptionStatus: SubscriptionStatus | null;
  /** The live subscription's currency (what overage is billed in), or null on the free plan without one. */
  currency: string | null;
  /** Whether the live subscription carries the `ai_credits` metered item (credits beyond the balance bill on it). */
  creditsOverageItem: boolean;
  billingPeriod: BillingPeriodSource | null;
  features: ReadonlyMap<string, boolean>;
  metrics: ReadonlyMap<MetricKey, MetricAllowance>;
}

/** What of a usage counter the allowances read. */
type CounterAllowance = Pick<UsageCounter, 'accountId' | 'metric' | 'periodStart' | 'included'>;

/**
 * Reads accounts' allowances: three indexed queries at once, however many accounts (the counters that contain
 * `now`: with the subscription's periods and the free calendar month there may be two per metric, the one of the
 * current usage period is picked once the subscription is known).
 */
export async function loadAccountAllowances(
  em: EntityManager,
  accountIds: string[],
  catalog: PlanCatalog,
  provisioner: EntitlementProvisioning,
  now: Date,
): Promise<Map<string, AccountAllowances>> {
  const [subscriptions, stored, counters, customers] = await Promise.all([
    em.find(
      Subscription,
      { accountId: { $in: accountIds }, status: { $in: [...LIVE_STATUSES] } },
      // Ascending, so the newest live subscription of an account (should Stripe ever hold two) is kept last.
      { orderBy: { createdAt: 'asc' }, disableIdentityMap: true },
    ),
    em.find(Entitlement, { accountId: { $in: accountIds } }, { disableIdentityMap: true }),
    em.find(
      UsageCounter,
      { accountId: { $in: accountIds }, periodStart: { $lte: now }, periodEnd: { $gt: now } },
      { disableIdentityMap: true, fields: ['accountId', 'metric', 'periodStart', 'included'] },
    ),
    // The currency overage is billed in (credits beyond the balance are priced in it).
    em.find(
      BillingCustomer,
      { accountId: { $in: accountIds } },
      { disableIdentityMap: true, fields: ['accountId', 'currency'] },
    ),
  ]);
  const currencyOf = new Map(customers.map((row) => [row.accountId, row.currency]));
  const countersOf = new Map<string, CounterAllowance[]>();
  for (const row of counters) countersOf.set(row.accountId, [...(countersOf.get(row.accountId) ?? []), row]);
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
        currencyOf.get(accountId) ?? null,
        entitlementsOf.get(accountId) ?? [],
        countersOf.get(accountId) ?? [],
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
  currency: string | null,
  stored: Entitlement[],
  counters: CounterAllowance[],
  catalog: PlanCatalog,
  provisioner: EntitlementProvisioning,
  now: Date,
): AccountAllowances {
  const plan = provisioner.effectivePlan(subscription, now);
  const billingPeriod = subscription
    ? { currentPeriodStart: subscription.currentPeriodStart, currentPeriodEnd: subscription.currentPeriodEnd }
    : null;
  const periodStart = usagePeriodAt(billingPeriod, now).start.getTime();
  const counterOf = new Map(
    counters
      .filter((counter) => counter.periodStart.getTime() === periodStart)
      .map((counter) => [counter.metric, counter]),
  );

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
    const counter = counterOf.get(limit.metric);
    metrics.set(limit.metric, {
      metric: limit.metric,
      kind: catalog.metric(limit.metric).kind,
      enabled: row ? row.enabled : limit.included === null || limit.included > 0,
      included: row ? (row.limit === null ? null : Number(row.limit)) : limit.included,
      overLimit: overLimitRuleOf(limit.overLimit, subscription?.status ?? null),
      period: counter
        ? {
            start: counter.periodStart,
            included: counter.included === null ? null : Number(counter.included),
          }
        : null,
    });
  }
  return {
    accountId,
    plan,
    subscriptionStatus: subscription?.status ?? null,
    currency: subscription ? currency : null,
    creditsOverageItem: subscription?.creditsOverageItem ?? false,
    billingPeriod,
    features,
    metrics,
  };
}
