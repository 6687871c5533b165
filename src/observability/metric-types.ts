/**
 * What the service reports its metrics through: one small interface per reporter, and the fixed sets of values
 * their labels take. `BillingMetrics` (metrics.ts) implements them on a Prometheus registry.
 */

/** What became of one Stripe event the processor was given. */
export type WebhookOutcome = 'processed' | 'duplicate' | 'ignored' | 'failed';

/** How a Stripe event reached the processor. */
export type WebhookSource = 'webhook' | 'reconciler';

/** A Stripe API call's outcome: `success`, or the kind of failure (see `StripeClient`). */
export type StripeCallOutcome =
  | 'success'
  | 'card_error'
  | 'invalid_request_error'
  | 'rate_limit_error'
  | 'api_error'
  | 'connection_error'
  | 'authentication_error'
  | 'idempotency_error'
  | 'other_error';

/** Why a usage event was not counted. A reason outside this list is counted as `other`. */
export const USAGE_REJECTION_REASONS = [
  'limit_exceeded',
  'unknown_metric',
  'invalid_input',
  'duplicate',
  'rate_limited',
  'other',
] as const;
export type UsageRejectionReason = (typeof USAGE_REJECTION_REASONS)[number];

/** How a dispute is counted: when it opens, and how it closed (Stripe's final statuses; anything else `other`). */
export const DISPUTE_OUTCOMES = ['opened', 'won', 'lost', 'warning_closed', 'prevented', 'other'] as const;
/** The states of the webhook inbox the backlog gauges report. */
export const INBOX_BACKLOG_STATES = ['pending', 'failed', 'dead'] as const;

/** Backlog of the webhook inbox in one state, read from the `webhook_event` table at scrape time. */
export interface InboxBacklog {
  /**
   * `pending`: received or processing, not done yet; `failed`: the last attempt failed, to be retried; `dead`:
   * failed too often or too long (the retry policy gave up), waiting for a person to replay it.
   */
  state: (typeof INBOX_BACKLOG_STATES)[number];
  count: number;
  /** Seconds since the oldest such event was received (0 when there is none). */
  oldestAgeSeconds: number;
}

/** The overage reports written down and not yet confirmed by Stripe, read from `usage_counter` at scrape time. */
export interface OverageReportBacklog {
  /** Reports pending: being sent, or waiting to be sent again after a failure. */
  pending: number;
  /** Of those, the stuck ones: pending for long, or failed many times (`STUCK_REPORT`). */
  stuck: number;
  /** Seconds since the oldest pending report was written down (0 when there is none). */
  oldestAgeSeconds: number;
}

/** What the UsageMeter reports: counted usage events and refused ones, by catalog metric. */
export interface UsageMetrics {
  /** `count` usage events (records, not quantities) of `metric` were counted; default 1. */
  recorded(metric: string, count?: number): void;
  /**
   * One usage event (or batch) of `metric` was refused, for `reason`: one of `USAGE_REJECTION_REASONS`, or the
   * error code it was refused with (USAGE_LIMIT_EXCEEDED, BAD_USER_INPUT, RATE_LIMITED); anything else is `other`.
   */
  rejected(metric: string, reason: UsageRejectionReason | string): void;
  /** One group commit of `size` requests of `kind` went to PostgreSQL as one transaction (ADR 0019). */
  grouped(kind: UsageGroupKind, size: number): void;
}

/** What a usage group commit carries: single records, batches (ADR 0034), reservation calls, or credit changes (ADR 0028). */
export type UsageGroupKind = 'record' | 'batch' | 'reserve' | 'commit' | 'release' | 'credit';

export interface WebhookMetrics {
  /** One event went through the processor; `type` must already be bounded (handled types, else `other`). */
  handled(type: string, outcome: WebhookOutcome, source: WebhookSource, seconds: number): void;
  /** One verified delivery at the endpoint: stored for the queue, a duplicate, or not stored (answered 500). */
  delivered(outcome: DeliveryOutcome): void;
  /** One statement stored `size` concurrent deliveries (the endpoint's group commit, ADR 0020). */
  intakeGroup(size: number): void;
}

/** What the endpoint did with a verified delivery (ADR 0020). */
export type DeliveryOutcome = 'queued' | 'duplicate' | 'failed';

/** Counts duplicates as they are first recorded (`billing_duplicate_subscriptions_total`). */
export interface DuplicateSubscriptionMetrics {
  duplicateCancelled(refunded: boolean): void;
}

/** Counts disputes as they open and close (`billing_disputes_total`). */
export interface DisputeMetrics {
  disputeOpened(): void;
  disputeClosed(status: string): void;
}

export interface PaymentMetrics {
  /** A committed `invoice.paid` (with money paid) or `invoice.payment_failed`. */
  outcome(outcome: 'succeeded' | 'failed'): void;
}

export interface StripeCallMetrics {
  /** One `StripeClient.call`, retries included; `method` is the operation name, e.g. `customers.create`. */
  call(method: string, outcome: StripeCallOutcome, seconds: number): void;
}

export interface GraphQLMetrics {
  /** One HTTP GraphQL operation; `operation` is the client's operation name, bounded here. */
  operation(operation: string | null | undefined, type: string, code: string, seconds: number): void;
  subscriptionStarted(): void;
  subscriptionEnded(): void;
}
