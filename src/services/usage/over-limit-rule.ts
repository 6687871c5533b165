import type { SubscriptionStatus } from '../../entities';
import type { OverLimitBehavior } from '../plans/plan.types';

/**
 * The subscription states in which Stripe bills usage on the next invoice: a trial's usage is not billed
 * (Stripe's trials docs: "any usage accrued doesn't count toward the total charged"), and a past-due or unpaid
 * subscription is not being paid. In any other state overage is refused rather than given away.
 */
const BILLING_STATUSES: ReadonlySet<string> = new Set(['active']);

/** The rule past an allowance for a subscription in `status` (null: no subscription, the free plan's own rule). */
export function overLimitRuleOf(
  planRule: OverLimitBehavior,
  status: SubscriptionStatus | null,
): OverLimitBehavior {
  return status !== null && !BILLING_STATUSES.has(status) ? 'block' : planRule;
}
