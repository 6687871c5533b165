import Redis from 'ioredis';
import type { DestinationStream } from 'pino';
import { TokenVerifier } from './auth/token-verifier';
import type { Config } from './config';
import { isDatabaseReachable, type Orm, openDatabase } from './database/database';
import { limitMutations } from './graphql/rate-limit';
import { buildBillingSchema } from './graphql/schema';
import { createLogger } from './logging/pino-logger';
import { readInboxBacklog } from './observability/inbox-backlog';
import { readOverageReportBacklog } from './observability/overage-report-backlog';
import { BillingMetrics } from './observability/metrics';
import { BillingServices } from './services/billing-services';
import { reprovisionAfterCatalogChange } from './services/catalog-reprovisioning';
import type { Logger } from './logging/logger';
import { type Clock, isFollowing } from './services/clock';
import { Reconciler, reconcilerSettings } from './services/reconciler';
import type { OverageReporter } from './services/usage/overage-reporter';
import { createMailTransport, MailWorker } from './services/notifications';
import { WebhookProcessor } from './webhooks/webhook-processor';
import { loadPlanCatalog } from './services/plans/plan-catalog';
import type { ReadinessCheck } from './http/health.routes';
import { createHttpServer, type HttpServer } from './server';
import { InMemoryPubSub } from './pubsub/in-memory-pubsub';
import type { BillingPubSub } from './pubsub/pubsub';
import { RedisBillingPubSub } from './pubsub/redis-pubsub';
import { UsageServices } from './services/usage/usage-services';
import { MutationRateLimiter } from './services/rate-limit/mutation-rate-limiter';

export interface BillingService {
  url: string;
  http: HttpServer;
  orm: Orm;
  pubSub: BillingPubSub;
  services: BillingServices;
  /** Catches up with Stripe's events and sweeps grace periods (null without Stripe). */
  reconciler: Reconciler | null;
  /** Reports overage to Stripe's Billing Meters (null without Stripe); `flush()` reports what is due now. */
  overageReporter: OverageReporter | null;
  /** Billing's "now": the wall clock, or (development and tests) Stripe's test time (`BILLING_CLOCK`). */
  clock: Clock;
  /** Settles when the start-up re-provisioning for a changed plan catalog has run (it runs in the background). */
  catalogProvisioned: Promise<unknown>;
  /** Graceful: stop accepting, finish in-flight requests, close WebSockets, the database pool and Redis. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Apply pending migrations before serving (development and tests). */
  migrate?: boolean;
  onQuery?: (sql: string) => void;
  /** Where the JSON log lines go (default stdout): tests read them. */
  logDestination?: DestinationStream;
}

/** Opens every dependency, assembles the service and starts listening. */
export async function startService(config: Config, options: StartOptions = {}): Promise<BillingService> {
  const logger = createLogger(config, options.logDestination);
  const orm = await openDatabase(
    {
      url: config.database.url,
      poolMax: config.database.poolMax,
      onQuery: options.onQuery,
      onDriverMessage: (level, message) => logger[level]({ driver: message }, 'database driver'),
    },
    { migrate: options.migrate ?? false },
  );
  const redisPubSub = config.redis ? new RedisBillingPubSub(config.redis.url) : null;
  const pubSub: BillingPubSub = redisPubSub ?? new InMemoryPubSub();
  const readinessChecks: ReadinessCheck[] = [{ name: 'database', check: () => isDatabaseReachable(orm) }];
  if (redisPubSub) readinessChecks.push({ name: 'redis', check: () => pingRedis(redisPubSub.client) });
  // The usage copies and the rate limits share one fail-fast connection (usage.stop() closes it).
  const fastRedis = config.redis ? usageRedisClient(config.redis.url) : null;
  let stopClock: () => void = () => undefined;

  try {
    // One registry per service, never prom-client's global one: tests run several services in one process.
    const metrics = new BillingMetrics({ defaultMetrics: true });
    metrics.readInboxWith(
      () => readInboxBacklog(orm),
      (error) => logger.warn({ err: error }, 'could not read the webhook inbox backlog for /metrics'),
    );
    metrics.readOverageReportsWith(
      () => readOverageReportBacklog(orm),
      (error) => logger.warn({ err: error }, 'could not read the pending overage reports for /metrics'),
    );
    if (config.isProduction && !config.metrics.token)
      logger.warn({}, 'METRICS_TOKEN is unset: GET /metrics is open to anyone who can reach this port');
    const services = new BillingServices(config, orm, loadPlanCatalog(), pubSub, logger, metrics);
    const clock = services.clock;
    if (isFollowing(clock)) await clock.start();
    stopClock = () => (isFollowing(clock) ? clock.stop() : undefined);
    const usage = new UsageServices({
      clock,
      orm,
      redis: fastRedis,
      catalog: services.catalog,
      provisioner: services.provisioner,
      events: services.events,
      pubSub,
      logger,
      namespace: databaseNameOf(config.database.url),
      metrics: metrics.usage,
    });
    services.attachUsage(usage);
    await usage.start();
    const schema = limitMutations(
      await buildBillingSchema(pubSub),
      new MutationRateLimiter(config.rateLimit, fastRedis, logger),
    );
    const processor = services.hasStripe ? createWebhookProcessor(orm, services, logger) : null;
    const http = await createHttpServer({
      metrics,
      config,
      schema,
      orm,
      services,
      logger,
      verifier: new TokenVerifier(config.auth),
      readinessChecks,
      webhooks: processor ? { secrets: config.stripe.webhookSecrets, processor } : null,
    });
    const reconciler = processor
      ? new Reconciler(orm, processor, services, reconcilerSettings(config), logger)
      : null;
    const overageReporter = services.hasStripe ? services.stripe.overageReporter : null;
    const mailTransport = createMailTransport(config, logger);
    const mailWorker = new MailWorker({
      em: orm.em,
      transport: mailTransport,
      logger,
      from: config.mail.from,
      intervalMs: config.mail.workerIntervalMs,
    });
    const url = await http.listen();
    reconciler?.start();
    // In the background: serving does not wait for it (a changed catalog reaches accounts within seconds).
    const catalogProvisioning = reprovisionAfterCatalogChange(
      orm,
      services.catalog,
      services.provisioner,
      services.events,
      logger,
      clock,
    ).catch((error: unknown) =>
      logger.error({ err: error }, 'could not provision entitlements for the changed catalog'),
    );
    overageReporter?.start();
    mailWorker.start();
    return {
      url,
      http,
      orm,
      pubSub,
      services,
      reconciler,
      overageReporter,
      clock,
      catalogProvisioned: catalogProvisioning,
      stop: async () => {
        await reconciler?.stop();
        await overageReporter?.stop();
        await catalogProvisioning;
        await http.close();
        await usage.stop();
        // A last pass once requests are done, so overage recorded since the previous pass is reported now.
        await overageReporter
          ?.flush()
          .catch((error: unknown) => logger.warn({ err: error }, 'last overage report at shutdown failed'));
        await mailWorker.stop();
        await mailTransport.close();
        await Promise.allSettled([orm.close(), pubSub.close()]);
        stopClock();
      },
    };
  } catch (error) {
    stopClock();
    fastRedis?.disconnect();
    await Promise.allSettled([orm.close(), pubSub.close()]);
    throw error;
  }
}

/** The webhook processor of a service (also what `npm run stripe:reconcile` processes events with). */
export function createWebhookProcessor(
  orm: Orm,
  services: BillingServices,
  logger: Logger,
): WebhookProcessor {
  const stripe = services.stripe;
  return new WebhookProcessor(
    orm,
    {
      stripe: stripe.stripe,
      clock: services.clock,
      customers: stripe.customers,
      subscriptions: stripe.subscriptionSync,
      invoices: services.invoices,
      paymentMethods: services.paymentMethods,
      provisioner: services.provisioner,
      // Mails go to the outbox inside the event's transaction; the mail worker sends them.
      notifications: services.mails,
      checkouts: services.checkoutRecords,
      duplicates: stripe.duplicates,
      refunds: stripe.refunds,
      disputes: stripe.disputes,
      trials: stripe.trials,
      logger,
    },
    services.events,
    logger,
    services.metrics,
  );
}

/**
 * The usage copies' own connection. It fails fast while Redis is away (no offline queue, a short command
 * timeout), so recording and reading fall back to PostgreSQL at once instead of waiting for a reconnect.
 */
function usageRedisClient(url: string): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: 500,
    maxRetriesPerRequest: 0,
    // Commands issued in the same tick (many requests' usage reads) share one write: fewer syscalls under load.
    enableAutoPipelining: true,
  });
  client.on('error', () => undefined);
  return client;
}

/** The database's name, from its URL (`postgres://host/billing` → `billing`). */
function databaseNameOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

async function pingRedis(client: Redis): Promise<boolean> {
  return (await client.ping()) === 'PONG';
}
