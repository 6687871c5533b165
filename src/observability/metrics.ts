import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The service's Prometheus metrics (`GET /metrics`, docs/monitoring.md). One `BillingMetrics`, with its own
 * `Registry`, per running service: never prom-client's global registry, so several services in one process
 * (the tests) each count only their own work. Every label has a small, fixed set of values; nothing that names
 * an account, a customer or an object is ever a label.
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

/** The error codes the UsageMeter refuses with, as reasons: it may report either. */
const REASON_OF_ERROR_CODE: Readonly<Record<string, UsageRejectionReason>> = {
  USAGE_LIMIT_EXCEEDED: 'limit_exceeded',
  BAD_USER_INPUT: 'invalid_input',
  RATE_LIMITED: 'rate_limited',
};

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
}

export interface WebhookMetrics {
  /** One event went through the processor; `type` must already be bounded (handled types, else `other`). */
  handled(type: string, outcome: WebhookOutcome, source: WebhookSource, seconds: number): void;
}

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

/** Operation names become a label only if they look like names; anything else, and names past the cap, are `other`. */
const OPERATION_NAME = /^[A-Za-z0-9_]{1,64}$/;
const MAX_OPERATION_NAMES = 100;
const OPERATION_TYPES: ReadonlySet<string> = new Set(['query', 'mutation', 'subscription']);

const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface BillingMetricsOptions {
  /**
   * The catalog's metric keys (`METRIC_KEYS`): the usage counters' `metric` label takes these values, any other
   * is `other`. Given, not imported, so that metrics know nothing of the services that report them.
   */
  usageMetricKeys: readonly string[];
  /** Node's process metrics (`process_*`, `nodejs_*`): on for a running service. */
  defaultMetrics?: boolean;
}

/**
 * The metrics of one running service, grouped by who reports them: the webhook processor (`webhooks`,
 * `payments`), the duplicate-subscription rule (`duplicates`), disputes (`disputes`), the StripeClient (`stripe`), the UsageMeter (`usage`), the Apollo plugin and graphql-ws hooks
 * (`graphql`). `startService` makes one and hands the groups out; `exposition()` is what `GET /metrics` serves.
 */
export class BillingMetrics {
  readonly registry = new Registry();
  readonly webhooks: WebhookMetrics;
  readonly payments: PaymentMetrics;
  readonly duplicates: DuplicateSubscriptionMetrics;
  readonly disputes: DisputeMetrics;
  readonly stripe: StripeCallMetrics;
  readonly usage: UsageMetrics;
  readonly graphql: GraphQLMetrics;
  private readonly inbox: ScrapeRead<InboxBacklog[]>;
  private readonly overageReports: ScrapeRead<OverageReportBacklog>;

  constructor(options: BillingMetricsOptions) {
    const registers = [this.registry];
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });

    const webhookEvents = new Counter({
      name: 'billing_webhook_events_total',
      help: 'Stripe events through the webhook processor, by event type (handled types, else other), outcome and how the event first reached us (webhook or reconciler)',
      labelNames: ['type', 'outcome', 'source'] as const,
      registers,
    });
    const webhookSeconds = new Histogram({
      name: 'billing_webhook_processing_duration_seconds',
      help: 'Time to process one Stripe event (storing, refetching from Stripe, the transaction), by event type',
      labelNames: ['type'] as const,
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.webhooks = {
      handled: (type, outcome, source, seconds) => {
        webhookEvents.inc({ type, outcome, source });
        webhookSeconds.observe({ type }, seconds);
      },
    };

    const inboxEvents = new Gauge({
      name: 'billing_webhook_inbox_events',
      help: 'Webhook inbox events not processed yet (pending), whose last attempt failed (failed), or given up on after too many attempts or days (dead: no more automatic retries), read at scrape time',
      labelNames: ['state'] as const,
      registers,
      collect: () => this.inbox.collect(),
    });
    const inboxOldest = new Gauge({
      name: 'billing_webhook_inbox_oldest_age_seconds',
      help: 'Age of the oldest pending, failed or dead webhook inbox event in seconds (0 when there is none)',
      labelNames: ['state'] as const,
      registers,
      collect: () => this.inbox.collect(),
    });
    this.inbox = new ScrapeRead(
      (backlog) => {
        for (const state of INBOX_BACKLOG_STATES) {
          const row = backlog.find((entry) => entry.state === state);
          inboxEvents.set({ state }, row?.count ?? 0);
          inboxOldest.set({ state }, row?.oldestAgeSeconds ?? 0);
        }
      },
      () => {
        inboxEvents.reset();
        inboxOldest.reset();
      },
    );

    const overageReports = new Gauge({
      name: 'billing_overage_reports',
      help: 'Overage reports to Stripe written down and not yet confirmed (pending), and those of them pending for over an hour or failed five times or more (stuck), read at scrape time',
      labelNames: ['state'] as const,
      registers,
      collect: () => this.overageReports.collect(),
    });
    // Labelled like the inbox gauges, so a failed read leaves the series out rather than showing a 0.
    const overageOldest = new Gauge({
      name: 'billing_overage_report_oldest_age_seconds',
      help: 'Seconds since the oldest pending overage report was written down (state pending; 0 when there is none), read at scrape time',
      labelNames: ['state'] as const,
      registers,
      collect: () => this.overageReports.collect(),
    });
    this.overageReports = new ScrapeRead(
      (backlog) => {
        overageReports.set({ state: 'pending' }, backlog.pending);
        overageReports.set({ state: 'stuck' }, backlog.stuck);
        overageOldest.set({ state: 'pending' }, backlog.oldestAgeSeconds);
      },
      () => {
        overageReports.reset();
        overageOldest.reset();
      },
    );

    const payments = new Counter({
      name: 'billing_payments_total',
      help: 'Invoice payments, from committed invoice.paid (amount paid above 0) and invoice.payment_failed events',
      labelNames: ['outcome'] as const,
      registers,
    });
    for (const outcome of ['succeeded', 'failed'] as const) payments.inc({ outcome }, 0);
    this.payments = { outcome: (outcome) => payments.inc({ outcome }) };

    const duplicates = new Counter({
      name: 'billing_duplicate_subscriptions_total',
      help: 'Second live subscriptions of an account, cancelled on their webhook; refunded: true when a payment was refunded, false for a trial or nothing charged',
      labelNames: ['refunded'] as const,
      registers,
    });
    for (const refunded of ['true', 'false'] as const) duplicates.inc({ refunded }, 0);
    this.duplicates = {
      duplicateCancelled: (refunded) => duplicates.inc({ refunded: refunded ? 'true' : 'false' }),
    };

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
    this.disputes = {
      disputeOpened: () => disputes.inc({ outcome: 'opened' }),
      disputeClosed: (status) => disputes.inc({ outcome: closedOutcomes.has(status) ? status : 'other' }),
    };

    const stripeCalls = new Counter({
      name: 'billing_stripe_requests_total',
      help: 'Stripe API calls (one per StripeClient.call, SDK retries included), by operation and outcome',
      labelNames: ['method', 'outcome'] as const,
      registers,
    });
    const stripeSeconds = new Histogram({
      name: 'billing_stripe_request_duration_seconds',
      help: 'Duration of one Stripe API call, SDK retries included, by operation',
      labelNames: ['method'] as const,
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.stripe = {
      call: (method, outcome, seconds) => {
        stripeCalls.inc({ method, outcome });
        stripeSeconds.observe({ method }, seconds);
      },
    };

    const usageRecorded = new Counter({
      name: 'billing_usage_events_recorded_total',
      help: 'Usage events (records) counted by the usage meter, by catalog metric (other for an unknown one)',
      labelNames: ['metric'] as const,
      registers,
    });
    const usageRejected = new Counter({
      name: 'billing_usage_events_rejected_total',
      help: 'Usage events refused by the usage meter, by catalog metric (other for an unknown one) and reason',
      labelNames: ['metric', 'reason'] as const,
      registers,
    });
    const knownMetrics: ReadonlySet<string> = new Set(options.usageMetricKeys);
    const reasons: ReadonlySet<string> = new Set(USAGE_REJECTION_REASONS);
    const metricLabel = (metric: string) => (knownMetrics.has(metric) ? metric : 'other');
    this.usage = {
      recorded: (metric, count = 1) => {
        if (Number.isFinite(count) && count > 0) usageRecorded.inc({ metric: metricLabel(metric) }, count);
      },
      rejected: (metric, reason) =>
        usageRejected.inc({
          metric: metricLabel(metric),
          reason: reasons.has(reason) ? reason : (REASON_OF_ERROR_CODE[reason] ?? 'other'),
        }),
    };

    const operations = new Counter({
      name: 'billing_graphql_operations_total',
      help: 'GraphQL operations over HTTP, by operation name (anonymous, other), type and error code (OK without errors)',
      labelNames: ['operation', 'type', 'code'] as const,
      registers,
    });
    const operationSeconds = new Histogram({
      name: 'billing_graphql_operation_duration_seconds',
      help: 'Duration of one GraphQL operation over HTTP, by operation name and type',
      labelNames: ['operation', 'type'] as const,
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    const subscriptions = new Gauge({
      name: 'billing_graphql_subscriptions_active',
      help: 'GraphQL subscriptions live on this instance (graphql-ws)',
      registers,
    });
    subscriptions.set(0);
    const seenNames = new Set<string>();
    const operationLabel = (name: string | null | undefined): string => {
      if (!name) return 'anonymous';
      if (!OPERATION_NAME.test(name)) return 'other';
      if (seenNames.has(name)) return name;
      if (seenNames.size >= MAX_OPERATION_NAMES) return 'other';
      seenNames.add(name);
      return name;
    };
    // Bounded: operation labels are capped (MAX_OPERATION_NAMES), types and codes are fixed sets.
    const operationChildren = new Map<
      string,
      { count: { inc(): void }; seconds: { observe(value: number): void } }
    >();
    this.graphql = {
      operation: (name, type, code, seconds) => {
        const operation = operationLabel(name);
        const kind = OPERATION_TYPES.has(type) ? type : 'unknown';
        // The labelled children are kept: prom-client would otherwise hash the label set on every request.
        const key = `${operation}\u0000${kind}\u0000${code}`;
        let children = operationChildren.get(key);
        if (!children) {
          children = {
            count: operations.labels({ operation, type: kind, code }),
            seconds: operationSeconds.labels({ operation, type: kind }),
          };
          operationChildren.set(key, children);
        }
        children.count.inc();
        children.seconds.observe(seconds);
      },
      subscriptionStarted: () => subscriptions.inc(),
      subscriptionEnded: () => subscriptions.dec(),
    };
  }

  /**
   * Where the inbox backlog is read from at each scrape (the service gives a query on `webhook_event`), and
   * what to do when that read fails: the scrape still answers, without the two inbox gauges.
   */
  readInboxWith(reader: () => Promise<InboxBacklog[]>, onError: (error: unknown) => void): void {
    this.inbox.use(reader, onError);
  }

  /**
   * Where the pending overage reports are read from at each scrape (the service gives a query on
   * `usage_counter`), and what to do when that read fails: the scrape still answers, without those two gauges.
   */
  readOverageReportsWith(
    reader: () => Promise<OverageReportBacklog>,
    onError: (error: unknown) => void,
  ): void {
    this.overageReports.use(reader, onError);
  }

  /** The Prometheus text exposition of everything in this registry. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/**
 * A value read from the database once per scrape, for the gauges that show it: they collect at once and share
 * the read. A failed read leaves them out of that scrape (a database outage must not take the other metrics
 * with it; /readyz reports the outage).
 */
class ScrapeRead<T> {
  private reader: (() => Promise<T>) | null = null;
  private onError: (error: unknown) => void = () => undefined;
  private current: Promise<void> | null = null;

  constructor(
    private readonly show: (value: T) => void,
    private readonly clear: () => void,
  ) {}

  use(reader: () => Promise<T>, onError: (error: unknown) => void): void {
    this.reader = reader;
    this.onError = onError;
  }

  collect(): Promise<void> {
    const reader = this.reader;
    if (!reader) return Promise.resolve();
    // `finally` runs in a later microtask, so the promise is stored before it is cleared.
    this.current ??= this.read(reader).finally(() => {
      this.current = null;
    });
    return this.current;
  }

  private async read(reader: () => Promise<T>): Promise<void> {
    try {
      this.show(await reader());
    } catch (error) {
      this.clear();
      this.onError(error);
    }
  }
}
