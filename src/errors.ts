import { GraphQLError } from 'graphql';

/**
 * The errors a client can see. Each carries a stable `extensions.code`; clients branch on the code, never on
 * the message. Anything else thrown in a resolver is masked as INTERNAL_SERVER_ERROR and logged.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  CARD_DECLINED: 'CARD_DECLINED',
  /**
   * The card's bank asks the customer to approve the payment (3-D Secure) and the operation cannot wait for it
   * (a plan change: see docs/integration-frontend.md). A new subscription does not fail: it answers INCOMPLETE with
   * its `pendingAction`.
   */
  AUTHENTICATION_REQUIRED: 'AUTHENTICATION_REQUIRED',
  STRIPE_ERROR: 'STRIPE_ERROR',
  USAGE_LIMIT_EXCEEDED: 'USAGE_LIMIT_EXCEEDED',
  /** A trial the account (or its card) already had: `extensions.reason` is ACCOUNT or CARD. */
  TRIAL_NOT_AVAILABLE: 'TRIAL_NOT_AVAILABLE',
  /** A reservation for work that needs a feature the account's plan does not include (`extensions.feature`). */
  FEATURE_NOT_IN_PLAN: 'FEATURE_NOT_IN_PLAN',
  RATE_LIMITED: 'RATE_LIMITED',
  /**
   * A promotion code that does not apply, refused before anything is written: `extensions.reason` is one of
   * `PROMOTION_CODE_REFUSALS` (`unknown`, `expired`, `inactive`, `max_redemptions`, `plan_not_eligible`,
   * `already_customer`, `minimum_not_met`, `already_discounted`).
   */
  PROMOTION_CODE_NOT_APPLICABLE: 'PROMOTION_CODE_NOT_APPLICABLE',
  /**
   * Fewer seats than are taken (the `seats` gauge): free seats first (`extensions.taken`, `requested`). Seats paid
   * for are never taken away from people using them.
   */
  SEATS_IN_USE: 'SEATS_IN_USE',
  /**
   * A currency other than the one the account pays in (`extensions.currency`): chosen once and kept, as Stripe
   * keeps a customer's (docs/billing-rules.md row 54).
   */
  CURRENCY_MISMATCH: 'CURRENCY_MISMATCH',
  /**
   * Stripe Tax is on and the customer has no location it can place (a country; in the US a 5-digit ZIP): set one
   * with `updateCustomer(input: { address })` first. Stripe's own refusal (`customer_tax_location_invalid`) reads
   * the same.
   */
  TAX_LOCATION_REQUIRED: 'TAX_LOCATION_REQUIRED',
  /** Removing the only card of a subscription that renews: add another card first (or cancel). */
  LAST_PAYMENT_METHOD: 'LAST_PAYMENT_METHOD',
  /** A refund or credit over what the invoice's payments still hold (`extensions.refundable`, minor units). */
  REFUND_EXCEEDS_PAID: 'REFUND_EXCEEDS_PAID',
  /**
   * Fewer credits available (balance less what holds keep) than a change needs: an admin's negative adjustment
   * (`extensions.available`, `requested`). Nothing was written.
   */
  INSUFFICIENT_CREDITS: 'INSUFFICIENT_CREDITS',
  /**
   * A hold for a team member whose monthly credit limit (`setMemberLimit`) it would pass, though the account may
   * still have credits: `extensions.memberId`, `limit`, `used` (settled this month), `held`, `requested`. Nothing
   * was written; the member's limit resets at the start of the next calendar month (UTC).
   */
  MEMBER_LIMIT_REACHED: 'MEMBER_LIMIT_REACHED',
  /**
   * A model call the balance cannot cover, on a plan that bills overage, whose credits beyond the balance would
   * pass the account's spend limit (`setSpendLimit`): `extensions.limitCents`, `currency`, `available`,
   * `requested`, `overageRoom` (credits that still fit). Nothing was reserved.
   */
  SPEND_LIMIT_REACHED: 'SPEND_LIMIT_REACHED',
  /**
   * A commit of a model call reporting more output tokens than its reservation's `maxOutputTokens`
   * (`extensions.maxOutputTokens`, `outputTokens`): the reservation is what was admitted. Nothing was written; the
   * reservation is still live (commit the call as reserved, or reserve for the real size first).
   */
  RESERVATION_EXCEEDED: 'RESERVATION_EXCEEDED',
  /** A document over a limit of src/graphql/query-limits.ts (depth, aliases, fields, tokens): refused unrun. */
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  /** The HTTP body is over GRAPHQL_MAX_BODY_BYTES (HTTP 413). */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Codes whose errors were raised on purpose and are safe to show as they are. INTERNAL_SERVER_ERROR is not one:
 * it is what Apollo calls every unexpected error, whose message may carry anything.
 */
export const CLIENT_ERROR_CODES: ReadonlySet<string> = new Set(
  Object.values(ErrorCode).filter((code) => code !== ErrorCode.INTERNAL_SERVER_ERROR),
);

export class BillingError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { ...extensions, code } });
  }
}

export class UnauthenticatedError extends BillingError {
  constructor(message = 'Sign in: send a valid bearer token') {
    super(ErrorCode.UNAUTHENTICATED, message);
  }
}

export class ForbiddenError extends BillingError {
  constructor(message = 'You may not access this account') {
    super(ErrorCode.FORBIDDEN, message);
  }
}

export class BadUserInputError extends BillingError {
  constructor(message: string, field?: string) {
    super(ErrorCode.BAD_USER_INPUT, message, field ? { field } : {});
  }
}

export class NotFoundError extends BillingError {
  constructor(what: string) {
    super(ErrorCode.NOT_FOUND, `${what} was not found`);
  }
}

export class ConflictError extends BillingError {
  constructor(message: string) {
    super(ErrorCode.CONFLICT, message);
  }
}

/** Too many mutations of one kind from one account: try again after `retryAfterSeconds`. */
export class RateLimitedError extends BillingError {
  constructor(retryAfterSeconds: number, limitedClass: string) {
    super(ErrorCode.RATE_LIMITED, `Too many requests: try again in ${retryAfterSeconds} s`, {
      retryAfterSeconds,
      limit: limitedClass,
    });
  }
}

export class CurrencyMismatchError extends BillingError {
  constructor(kept: string, asked: string) {
    super(
      ErrorCode.CURRENCY_MISMATCH,
      `This account pays in ${kept.toUpperCase()}, chosen once and kept: it cannot pay in ${asked.toUpperCase()}`,
      { currency: kept, requested: asked },
    );
  }
}

/** Why a promotion code does not apply (`extensions.reason` of PROMOTION_CODE_NOT_APPLICABLE). */
export const PROMOTION_CODE_REFUSALS = {
  unknown: 'No promotion code has this text',
  expired: 'This promotion code has expired',
  inactive: 'This promotion code is no longer offered',
  max_redemptions: 'This promotion code has been used as many times as it may be',
  plan_not_eligible: 'This promotion code does not apply to this plan',
  already_customer: 'This promotion code is for new customers only',
  minimum_not_met: 'This promotion code needs a larger order',
  already_discounted: 'The subscription already has a promotion code: codes do not stack',
} as const;
export type PromotionCodeRefusal = keyof typeof PROMOTION_CODE_REFUSALS;

export class PromotionCodeNotApplicableError extends BillingError {
  constructor(
    readonly reason: PromotionCodeRefusal,
    code: string,
  ) {
    super(ErrorCode.PROMOTION_CODE_NOT_APPLICABLE, `${PROMOTION_CODE_REFUSALS[reason]} (${code})`, {
      reason,
      promotionCode: code,
    });
  }
}

/** Stripe Tax needs the customer's location before it can tax what is asked (ErrorCode.TAX_LOCATION_REQUIRED). */
export class TaxLocationRequiredError extends BillingError {
  constructor(extensions: Record<string, unknown> = {}) {
    super(
      ErrorCode.TAX_LOCATION_REQUIRED,
      'Tax is computed from the billing address: set it first with updateCustomer(input: { address }) (a country; in the US a 5-digit postal code)',
      { ...extensions, field: 'address' },
    );
  }
}

/** An account's credits never go below zero: the change needs more than is available (nothing was written). */
export class InsufficientCreditsError extends BillingError {
  constructor(available: number, requested: number) {
    super(
      ErrorCode.INSUFFICIENT_CREDITS,
      `Only ${available} credits are available (the balance less what holds keep): ${requested} cannot be taken`,
      { available, requested },
    );
  }
}

export interface MemberLimitRefusal {
  memberId: string;
  limit: number;
  used: number;
  held: number;
  requested: number;
}

/** A member's monthly limit would be passed by a hold: the member waits for the next month or a higher limit. */
export class MemberLimitReachedError extends BillingError {
  constructor(refusal: MemberLimitRefusal) {
    super(
      ErrorCode.MEMBER_LIMIT_REACHED,
      `Member ${refusal.memberId} has used ${refusal.used} and holds ${refusal.held} of a monthly limit of ${refusal.limit} credits: ${refusal.requested} more would pass it`,
      { ...refusal },
    );
  }
}
