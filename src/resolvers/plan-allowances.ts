import type { Subscription } from '../entities';
import type { Entitlement, FeatureAccess, UsageSummary } from '../schema/entitlement.type';
import type { Plan } from '../services/plans/plan.types';

/**
 * What a plan allows, as the API shows it. Until usage metering lands (issue 6) usage is not counted, so
 * `used` is 0 and access follows the plan alone.
 */
export function entitlementsOf(plan: Plan): Entitlement[] {
  return [
    ...Object.entries(plan.features).map(([feature, enabled]) => ({
      feature,
      enabled,
      limit: null,
      used: null,
    })),
    ...plan.limits.map((limit) => ({
      feature: limit.metric,
      enabled: limit.included === null || limit.included > 0,
      limit: limit.included,
      used: 0,
    })),
  ];
}

export function featureAccessOf(plan: Plan, feature: string): FeatureAccess {
  const limit = plan.limits.find((candidate) => candidate.metric === feature);
  if (limit) {
    const allowed = limit.included === null || limit.included > 0 || limit.overLimit === 'bill_overage';
    return {
      feature,
      allowed,
      reason: allowed ? null : 'LIMIT_REACHED',
      limit: limit.included,
      used: 0,
      remaining: limit.included,
    };
  }
  const enabled = plan.features[feature];
  if (enabled === undefined) {
    return { feature, allowed: false, reason: 'UNKNOWN_FEATURE', limit: null, used: null, remaining: null };
  }
  return {
    feature,
    allowed: enabled,
    reason: enabled ? null : 'NOT_IN_PLAN',
    limit: null,
    used: null,
    remaining: null,
  };
}

export function usageOf(plan: Plan, subscription: Subscription | null, now: Date): UsageSummary[] {
  const { start, end } = currentPeriod(subscription, now);
  return plan.limits.map((limit) => ({
    metric: limit.metric,
    used: 0,
    included: limit.included,
    remaining: limit.included,
    overage: 0,
    periodStart: start,
    periodEnd: end,
  }));
}

/** The subscription's billing period, or the calendar month (UTC) for accounts on the free plan. */
export function currentPeriod(subscription: Subscription | null, now: Date): { start: Date; end: Date } {
  if (subscription?.currentPeriodStart && subscription.currentPeriodEnd) {
    return { start: subscription.currentPeriodStart, end: subscription.currentPeriodEnd };
  }
  return {
    start: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)),
    end: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)),
  };
}
