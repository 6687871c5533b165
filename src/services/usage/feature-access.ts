import type { MetricKey } from '../plans/plan.types';
import type { AccountAllowances } from './account-allowances';
import type { UsageFigures } from './usage-reader';

/** The answer to "may this account use this feature now?", as the API shows it. */
export interface FeatureAccessAnswer {
  feature: string;
  allowed: boolean;
  /** NOT_IN_PLAN, UNKNOWN_FEATURE or LIMIT_REACHED when refused; OVERAGE when allowed but billed as overage. */
  reason: 'NOT_IN_PLAN' | 'UNKNOWN_FEATURE' | 'LIMIT_REACHED' | 'OVERAGE' | null;
  limit: number | null;
  used: number | null;
  remaining: number | null;
}

/**
 * Decides access from the allowances (and, for a metric, its usage): a plain feature is on or off; a metric
 * is allowed while below its included amount, unlimited when it has none, and past it either refused
 * (`block`) or allowed as billed overage (`bill_overage`).
 */
export function decideFeatureAccess(
  allowances: AccountAllowances,
  key: string,
  usage: UsageFigures | null,
): FeatureAccessAnswer {
  const metric = allowances.metrics.get(key as MetricKey);
  if (metric) {
    const used = usage?.used ?? 0;
    // The period's allowance when the usage is known (a plan change inside the period weighs it).
    const included = usage ? usage.included : metric.included;
    const base = { feature: key, limit: included, used, remaining: usage?.remaining ?? included };
    if (!metric.enabled) return { ...base, allowed: false, reason: 'NOT_IN_PLAN', remaining: 0 };
    if (included === null || used < included) return { ...base, allowed: true, reason: null };
    return metric.overLimit === 'bill_overage'
      ? { ...base, allowed: true, reason: 'OVERAGE' }
      : { ...base, allowed: false, reason: 'LIMIT_REACHED' };
  }
  const enabled = allowances.features.get(key);
  const none = { feature: key, limit: null, used: null, remaining: null };
  if (enabled === undefined) return { ...none, allowed: false, reason: 'UNKNOWN_FEATURE' };
  return { ...none, allowed: enabled, reason: enabled ? null : 'NOT_IN_PLAN' };
}
