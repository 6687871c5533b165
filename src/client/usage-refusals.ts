/**
 * The gate's own answers: the codes of its error bodies, and the 402 for a reservation the billing service
 * refused (a limit reached, a feature not in the plan, a feature no plan has).
 */
import { BillingClientError } from './billing-client';
import type { UsageLogger } from './usage-recorder';

/** The `error.code` of the middleware's own answers. */
export const UsageGateErrorCode = {
  /** 402: the metric's included amount is used up (the plan blocks use past it). */
  USAGE_LIMIT_EXCEEDED: 'USAGE_LIMIT_EXCEEDED',
  /** 402: the account's plan does not include the feature (or the billing service does not know it). */
  FEATURE_NOT_IN_PLAN: 'FEATURE_NOT_IN_PLAN',
  /** 401: `accountId(req)` found no account. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** 400: the `Idempotency-Key` (or `idempotencyKey(req)`) is not printable ASCII or is too long. */
  BAD_IDEMPOTENCY_KEY: 'BAD_IDEMPOTENCY_KEY',
  /** 503: the billing service could not answer the check and `onUnavailable` is `deny`. */
  BILLING_UNAVAILABLE: 'BILLING_UNAVAILABLE',
} as const;
export type UsageGateErrorCode = (typeof UsageGateErrorCode)[keyof typeof UsageGateErrorCode];

/** The JSON body of a 402 answer. */
export interface UsageDeniedBody {
  error: {
    code: typeof UsageGateErrorCode.USAGE_LIMIT_EXCEEDED | typeof UsageGateErrorCode.FEATURE_NOT_IN_PLAN;
    /** The feature or metric refused. */
    feature: string;
    /** The billing service's reason: LIMIT_REACHED, NOT_IN_PLAN, UNKNOWN_FEATURE. */
    reason: string | null;
    limit: number | null;
    used: number | null;
    message: string;
  };
}

/** The 402 answer for a reservation the billing service refused, or null when it did not refuse it. */
export function refusalOf(
  error: unknown,
  options: { metric: string; feature?: string },
  warnedUnknown: Set<string>,
  logger: UsageLogger,
): UsageDeniedBody | null {
  if (!(error instanceof BillingClientError)) return null;
  const extensions = error.details.extensions ?? {};
  if (error.code === UsageGateErrorCode.USAGE_LIMIT_EXCEEDED) {
    const limit = numberOrNull(extensions.limit);
    const used = numberOrNull(extensions.used);
    return {
      error: {
        code: UsageGateErrorCode.USAGE_LIMIT_EXCEEDED,
        feature: options.metric,
        reason: 'LIMIT_REACHED',
        limit,
        used,
        message:
          limit === null
            ? `Usage limit of ${options.metric} reached for this billing period`
            : `Usage limit reached: ${used ?? limit} of ${limit} ${options.metric} included in the plan used this billing period. ${error.message}`,
      },
    };
  }
  if (error.code === UsageGateErrorCode.FEATURE_NOT_IN_PLAN) {
    const feature =
      typeof extensions.feature === 'string' ? extensions.feature : (options.feature ?? options.metric);
    return notInPlan(feature, 'NOT_IN_PLAN', `${feature} is not included in the account's plan`);
  }
  const field = extensions.field;
  if (error.code === 'BAD_USER_INPUT' && (field === 'feature' || field === 'metric')) {
    // The gate names a feature or metric no plan has: a configuration error that refuses every request.
    const name = field === 'feature' ? (options.feature ?? '') : options.metric;
    if (!warnedUnknown.has(name)) {
      warnedUnknown.add(name);
      logger.warn(
        { feature: name },
        'the billing service does not know this feature: every request of this gate is refused',
      );
    }
    return notInPlan(name, 'UNKNOWN_FEATURE', `${name} is not a feature of any plan`);
  }
  return null;
}

function notInPlan(feature: string, reason: string, message: string): UsageDeniedBody {
  return {
    error: {
      code: UsageGateErrorCode.FEATURE_NOT_IN_PLAN,
      feature,
      reason,
      limit: null,
      used: null,
      message,
    },
  };
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}
