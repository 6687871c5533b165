import { BillingError, ErrorCode } from '../../errors';
import type { AccountAllowances, MetricAllowance } from './account-allowances';

/** Why use past a metric's allowance is refused: the plan's hard limit, or the subscription's state. */
export type LimitReason = 'PLAN_LIMIT' | 'TRIAL' | 'PAST_DUE' | 'NOT_AVAILABLE';

interface Figures {
  included: number;
  used: number;
  reserved: number;
  requested: number;
}

/**
 * USAGE_LIMIT_EXCEEDED for a use past the allowance, naming the limit, what is used and held, why it is refused
 * (`extensions.reason`) and what the customer can do about it. Shared by recording and reserving, so both answer
 * a refusal in the same words.
 */
export function limitExceeded(
  allowances: AccountAllowances,
  allowance: MetricAllowance,
  figures: Figures,
): BillingError {
  const reason = limitReasonOf(allowances, allowance);
  const seats = reason === 'PLAN_LIMIT' && allowance.metric === 'seats' ? allowances.plan.seats : null;
  const message = messageOf(reason, allowances, allowance, figures);
  return new BillingError(
    ErrorCode.USAGE_LIMIT_EXCEEDED,
    seats ? `${message}: buy more seats with setSeats (up to ${seats.maximum})` : message,
    {
      metric: allowance.metric,
      limit: figures.included,
      used: figures.used,
      reserved: figures.reserved,
      requested: figures.requested,
      reason,
      // What the customer can do about it, for a client to offer: seats of a per-seat plan are bought.
      ...(seats ? { remedy: 'setSeats', maximum: seats.maximum } : {}),
    },
  );
}

/** USAGE_LIMIT_EXCEEDED for a metric an admin switched off for the account. */
export function metricNotAvailable(
  allowance: MetricAllowance,
  used: number,
  requested: number,
): BillingError {
  return new BillingError(
    ErrorCode.USAGE_LIMIT_EXCEEDED,
    `${allowance.metric} is not available on this account`,
    { metric: allowance.metric, limit: 0, used, reserved: 0, requested, reason: 'NOT_AVAILABLE' },
  );
}

function limitReasonOf(allowances: AccountAllowances, allowance: MetricAllowance): LimitReason {
  const planRule = allowances.plan.limits.find((limit) => limit.metric === allowance.metric)?.overLimit;
  if (planRule !== 'bill_overage') return 'PLAN_LIMIT';
  return allowances.subscriptionStatus === 'trialing' ? 'TRIAL' : 'PAST_DUE';
}

function messageOf(
  reason: LimitReason,
  allowances: AccountAllowances,
  allowance: MetricAllowance,
  { included, used, reserved }: Figures,
): string {
  const metric = allowance.metric;
  const taken =
    reserved > 0 ? `${used} are used and ${reserved} held by requests in progress` : `${used} are used`;
  if (reason === 'TRIAL')
    return `Trial limit reached: the ${allowances.plan.name} trial includes ${included} ${metric} and ${taken}; more is refused during the trial (no usage is billed in a trial). End the trial (endTrial) to pay for more`;
  if (reason === 'PAST_DUE')
    return `Usage limit reached: the subscription is past due, so use past the included ${included} ${metric} is refused (${taken}) until the payment succeeds. Update the card`;
  return allowance.kind === 'counter'
    ? `Usage limit reached: the ${allowances.plan.name} plan includes ${included} ${metric} per period and ${taken}`
    : `Usage limit reached: the ${allowances.plan.name} plan allows at most ${included} ${metric}`;
}
