import { Registry } from 'prom-client';
import { inboxBacklogGauges, overageBacklogGauges } from './backlog-gauges';
import { graphqlMetrics } from './graphql-operation-metrics';
import { type MaintenanceMetrics, maintenanceMetrics } from './maintenance-metrics';
import {
  disputeMetrics,
  duplicateSubscriptionMetrics,
  paymentMetrics,
  stripeCallMetrics,
  usageMetrics,
  webhookMetrics,
} from './metric-families';
import type {
  DisputeMetrics,
  DuplicateSubscriptionMetrics,
  GraphQLMetrics,
  InboxBacklog,
  OverageReportBacklog,
  PaymentMetrics,
  StripeCallMetrics,
  UsageMetrics,
  WebhookMetrics,
} from './metric-types';
import { collectProcessMetrics } from './process-metrics';
import type { ScrapeRead } from './scrape-read';

/**
 * The service's Prometheus metrics (`GET /metrics`, docs/monitoring.md). One `BillingMetrics`, with its own
 * `Registry`, per running service: never prom-client's global registry, so several services in one process
 * (the tests) each count only their own work. Every label has a small, fixed set of values; nothing that names
 * an account, a customer or an object is ever a label.
 */

/** The reporters' interfaces, for those who report through them without building the registry. */
export type * from './metric-types';
export type { MaintenanceMetrics, MaintenanceOutcome, PrunedKind } from './maintenance-metrics';

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
 * (`graphql`), the data maintenance job (`maintenance`). `startService` makes one and hands the groups out; `exposition()` is what `GET /metrics` serves.
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
  readonly maintenance: MaintenanceMetrics;
  private readonly inbox: ScrapeRead<InboxBacklog[]>;
  private readonly overageReports: ScrapeRead<OverageReportBacklog>;
  private readonly stopProcessMetrics: () => void;

  constructor(options: BillingMetricsOptions) {
    const registers = [this.registry];
    this.stopProcessMetrics = options.defaultMetrics ? collectProcessMetrics(this.registry) : () => undefined;
    // In this order on the registry, and so in the exposition.
    this.webhooks = webhookMetrics(registers);
    this.inbox = inboxBacklogGauges(registers);
    this.overageReports = overageBacklogGauges(registers);
    this.payments = paymentMetrics(registers);
    this.duplicates = duplicateSubscriptionMetrics(registers);
    this.disputes = disputeMetrics(registers);
    this.stripe = stripeCallMetrics(registers);
    this.usage = usageMetrics(registers, options.usageMetricKeys);
    this.graphql = graphqlMetrics(registers);
    this.maintenance = maintenanceMetrics(registers);
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

  /** Stops watching the process (the gc observer, the event-loop monitor): the service is stopping. */
  close(): void {
    this.stopProcessMetrics();
  }

  /** The Prometheus text exposition of everything in this registry. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
