import { Counter, Histogram, type Registry } from 'prom-client';
import {
  DISPUTE_OUTCOMES,
  type DisputeMetrics,
  type DuplicateSubscriptionMetrics,
  type PaymentMetrics,
  type StripeCallMetrics,
  USAGE_REJECTION_REASONS,
  type UsageMetrics,
  type UsageRejectionReason,
  type WebhookMetrics,
} from './metric-types';

/** One builder per reporter: its counters on the registry, and the small interface the reporter calls. */

export const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The error codes the UsageMeter refuses with, as reasons: it may report either. */
const REASON_OF_ERROR_CODE: Readonly<Record<string, UsageRejectionReason>> = {
  USAGE_LIMIT_EXCEEDED: 'limit_exceeded',
  BAD_USER_INPUT: 'invalid_input',
  RATE_LIMITED: 'rate_limited',
};

export function webhookMetrics(registers: Registry[]): WebhookMetrics {
  const events = new Counter({
    name: 'billing_webhook_events_total',
    help: 'Stripe events through the webhook processor, by event type (handled types, else other), outcome and how the event first reached us (webhook or reconciler)',
    labelNames: ['type', 'outcome', 'source'] as const,
    registers,
  });
  const seconds = new Histogram({
    name: 'billing_webhook_processing_duration_seconds',
    help: 'Time to process one Stripe event (refetching from Stripe, the transaction, publishing; the reconciler also stores it), by event type',
    labelNames: ['type'] as const,
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });
  const deliveries = new Counter({
    name: 'billing_webhook_deliveries_total',
    help: 'Verified deliveries at the webhook endpoint, by outcome: queued (stored, processed behind the answer), duplicate (already stored: nothing changed), failed (not stored, answered 500)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const intakeGroups = new Histogram({
    name: 'billing_webhook_intake_group_size',
    help: 'Deliveries stored by one inbox statement at the webhook endpoint (group commit: concurrent deliveries share one insert and one commit)',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers,
  });
  return {
    handled: (type, outcome, source, duration) => {
      events.inc({ type, outcome, source });
      seconds.observe({ type }, duration);
    },
    delivered: (outcome) => deliveries.inc({ outcome }),
    intakeGroup: (size) => intakeGroups.observe(size),
  };
}

export function paymentMetrics(registers: Registry[]): PaymentMetrics {
  const payments = new Counter({
    name: 'billing_payments_total',
    help: 'Invoice payments, from committed invoice.paid (amount paid above 0) and invoice.payment_failed events',
    labelNames: ['outcome'] as const,
    registers,
  });
  for (const outcome of ['succeeded', 'failed'] as const) payments.inc({ outcome }, 0);
  return { outcome: (outcome) => payments.inc({ outcome }) };
}

export function duplicateSubscriptionMetrics(registers: Registry[]): DuplicateSubscriptionMetrics {
  const duplicates = new Counter({
    name: 'billing_duplicate_subscriptions_total',
    help: 'Second live subscriptions of an account, cancelled on their webhook; refunded: true when a payment was refunded, false for a trial or nothing charged',
    labelNames: ['refunded'] as const,
    registers,
  });
  for (const refunded of ['true', 'false'] as const) duplicates.inc({ refunded }, 0);
  return { duplicateCancelled: (refunded) => duplicates.inc({ refunded: refunded ? 'true' : 'false' }) };
}

export function disputeMetrics(registers: Registry[]): DisputeMetrics {
  const disputes = new Counter({
    name: 'billing_disputes_total',
    help: 'Chargebacks: opened, and how they closed (won, lost, warning_closed, prevented, other)',
    labelNames: ['outcome'] as const,
    registers,
  });
  for (const outcome of DISPUTE_OUTCOMES) disputes.inc({ outcome }, 0);
  const closedOutcomes: ReadonlySet<string> = new Set(
    DISPUTE_OUTCOMES.filter((outcome) => outcome !== 'opened'),
  );
  return {
    disputeOpened: () => disputes.inc({ outcome: 'opened' }),
    disputeClosed: (status) => disputes.inc({ outcome: closedOutcomes.has(status) ? status : 'other' }),
  };
}

export function stripeCallMetrics(registers: Registry[]): StripeCallMetrics {
  const calls = new Counter({
    name: 'billing_stripe_requests_total',
    help: 'Stripe API calls (one per StripeClient.call, SDK retries included), by operation and outcome',
    labelNames: ['method', 'outcome'] as const,
    registers,
  });
  const seconds = new Histogram({
    name: 'billing_stripe_request_duration_seconds',
    help: 'Duration of one Stripe API call, SDK retries included, by operation',
    labelNames: ['method'] as const,
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });
  return {
    call: (method, outcome, duration) => {
      calls.inc({ method, outcome });
      seconds.observe({ method }, duration);
    },
  };
}

/** `metricKeys`: the catalog's metrics, the only values of the `metric` label besides `other`. */
export function usageMetrics(registers: Registry[], metricKeys: readonly string[]): UsageMetrics {
  const recorded = new Counter({
    name: 'billing_usage_events_recorded_total',
    help: 'Usage events (records) counted by the usage meter, by catalog metric (other for an unknown one)',
    labelNames: ['metric'] as const,
    registers,
  });
  const rejected = new Counter({
    name: 'billing_usage_events_rejected_total',
    help: 'Usage events refused by the usage meter, by catalog metric (other for an unknown one) and reason',
    labelNames: ['metric', 'reason'] as const,
    registers,
  });
  const groups = new Histogram({
    name: 'billing_usage_group_commit_size',
    help: "Requests per usage group commit (one transaction each), by kind: record, batch (a batch is one request), reserve, commit, release, credit (a model call's hold and settle)",
    labelNames: ['kind'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers,
  });
  const knownMetrics: ReadonlySet<string> = new Set(metricKeys);
  const reasons: ReadonlySet<string> = new Set(USAGE_REJECTION_REASONS);
  const metricLabel = (metric: string) => (knownMetrics.has(metric) ? metric : 'other');
  return {
    recorded: (metric, count = 1) => {
      if (Number.isFinite(count) && count > 0) recorded.inc({ metric: metricLabel(metric) }, count);
    },
    rejected: (metric, reason) =>
      rejected.inc({
        metric: metricLabel(metric),
        reason: reasons.has(reason) ? reason : (REASON_OF_ERROR_CODE[reason] ?? 'other'),
      }),
    grouped: (kind, size) => groups.observe({ kind }, size),
  };
}
