import type { Logger } from '../logging/logger';
import { TokenVerifier } from '../auth/token-verifier';
import type { Config } from '../config';
import type { Orm } from '../database/database';
import { createHttpServer, type HttpServer } from '../http/server';
import type { DestinationStream } from 'pino';
import { bufferedStdout } from '../logging/log-destination';
import { AccessLogger } from '../logging/access-logger';
import { createLogger } from '../logging/pino-logger';
import type { BillingMetrics } from '../observability/metrics';
import type { BillingPubSub } from '../pubsub/pubsub';
import { type Clock, isFollowing } from '../services/time/clock';
import type { Reconciler } from '../webhooks/reconciler/reconciler';
import type { WebhookQueue } from '../webhooks/pipeline/webhook-queue';
import { readOverageReportBacklog } from '../observability/overage-report-backlog';
import { STUCK_REPORT } from '../services/usage/overage-report';
import { readInboxBacklog } from '../observability/inbox-backlog';
import type { OverageReporter } from '../services/usage/overage-reporter';
import { UsageServices } from '../services/usage/usage-services';
import { MutationRateLimiter } from '../services/rate-limit/mutation-rate-limiter';
import type { DataMaintenance } from '../webhooks/reconciler/data-maintenance';
import { BackgroundWork } from './background-work';
import { buildDataMaintenance } from './data-maintenance';
import { buildCoreServices, type CoreServices } from './core-services';
import { buildCreditPurchaseServices, type CreditPurchaseServices } from './credit-purchase-services';
import { buildCreditServices, type CreditServices } from './credit-services';
import { buildGraphQLSchema, buildResolvers, contextFactory } from './graphql';
import { type AppOptions, databaseNameOf, type Infrastructure, openInfrastructure } from './infrastructure';
import { buildStripeServices, type StripeServices } from './stripe-services';
import { buildWebhookPipeline, type WebhookPipeline, webhookAdmin } from './webhook-pipeline';

export type { AppOptions };

/** One running instance of CODITECT Billing, as `createApp` assembled it. */
export interface App {
  http: HttpServer;
  orm: Orm;
  pubSub: BillingPubSub;
  /** This instance's Prometheus metrics (`GET /metrics`). */
  metrics: BillingMetrics;
  /** Billing's "now": the wall clock, or (development and tests) Stripe's test time (`BILLING_CLOCK`). */
  clock: Clock;
  /** What was built, for scripts and tests to reach in: nothing in `src/` looks a service up here. */
  services: CoreServices & {
    stripe: StripeServices | null;
    usage: UsageServices;
    credits: CreditServices;
    /** Credit packs and automatic top-ups (null without Stripe). */
    creditPurchases: CreditPurchaseServices | null;
  };
  /** Catches up with Stripe's events and sweeps grace periods (null without Stripe). */
  reconciler: Reconciler | null;
  /** Processes stored webhook events behind the endpoint's answer (null without Stripe); `drain()` for tests. */
  webhookQueue: WebhookQueue | null;
  /** Reports overage to Stripe's Billing Meters (null without Stripe); `flush()` reports what is due now. */
  overageReporter: OverageReporter | null;
  /** Keeps usage records, webhook events and sent mails within their retention (ADR 0021). */
  maintenance: DataMaintenance;
  /** Settles when the start-up re-provisioning for a changed plan catalog has run (it runs in the background). */
  catalogProvisioned(): Promise<unknown>;
  /** Listens, and starts the background work; resolves to the base URL. */
  start(): Promise<string>;
  /** Graceful: stop accepting, finish in-flight requests, close WebSockets, the database pool and Redis. */
  stop(): Promise<void>;
}

/**
 * The composition root: every part of the service is built here, in dependency order, each given what it uses
 * as constructor arguments. Read it top to bottom to see what the service is made of.
 */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const { logger, accessLogger, logOutput } = openLogs(config, options.logDestination);
  const infrastructure = await openInfrastructure(config, options, logger);
  const { orm, pubSub, fastRedis, metrics } = infrastructure;
  let core: CoreServices | null = null;
  try {
    core = buildCoreServices(config, pubSub, logger);
    if (isFollowing(core.clock)) await core.clock.start();
    const stripe = buildStripeServices(config, orm, core, metrics, logger);
    const usage = await startUsage(config, core, infrastructure, logger);
    const credits = buildCreditServices({ orm, pubSub, logger, metrics: metrics.usage }, core, usage.gate);
    const { pipeline, purchases } = stripeWork(config, orm, core, credits, stripe, metrics, logger);
    const resolvers = buildResolvers(core, stripe, usage, credits, purchases, webhookAdmin(orm, pipeline));
    // One set of per-account budgets for GraphQL's usage mutations and POST /usage/batch.
    const namespace = databaseNameOf(config.database.url);
    const limiter = new MutationRateLimiter(config.rateLimit, fastRedis, logger, namespace);
    const http = await createHttpServer({
      config,
      schema: await buildGraphQLSchema(pubSub, resolvers, limiter),
      logger,
      accessLogger,
      verifier: new TokenVerifier(config.auth),
      contextFor: contextFactory(orm, core, usage),
      readinessChecks: infrastructure.readinessChecks,
      metrics,
      webhooks: pipeline ? { secrets: config.stripe.webhookSecrets, queue: pipeline.queue } : null,
      usageRoutes: { meter: usage.meter, limiter },
    });
    watchBacklogs(infrastructure, logger);
    const maintenance = buildDataMaintenance(config, orm, core.clock, metrics.maintenance, logger);
    const background = new BackgroundWork(
      config,
      orm,
      core,
      pipeline,
      stripe?.overageReporter ?? null,
      maintenance,
      credits,
      logger,
    );
    const services = { ...core, stripe, usage, credits, creditPurchases: purchases };
    return {
      http,
      orm,
      pubSub,
      metrics,
      clock: core.clock,
      services,
      reconciler: pipeline?.reconciler ?? null,
      webhookQueue: pipeline?.queue ?? null,
      overageReporter: stripe?.overageReporter ?? null,
      maintenance,
      catalogProvisioned: () => background.catalogProvisioned,
      start: async () => {
        const url = await http.listen();
        background.start();
        return url;
      },
      stop: async () => {
        await background.stopTakingWork();
        await http.close();
        await usage.stop();
        await background.finish();
        // The credit groups' `balanceUpdated` publishes not waited for by their callers (ADR 0032), sent first.
        await credits.events.published();
        await infrastructure.close();
        stopClock(services.clock);
        logOutput?.close();
      },
    };
  } catch (error) {
    if (core) stopClock(core.clock);
    await infrastructure.close();
    logOutput?.close();
    throw error;
  }
}

/** Usage metering and feature gating, started (the feature gate listening for changes to its accounts). */
async function startUsage(
  config: Config,
  core: CoreServices,
  { orm, fastRedis, pubSub, metrics }: Infrastructure,
  logger: ReturnType<typeof openLogs>['logger'],
): Promise<UsageServices> {
  const usage = new UsageServices({
    ...core,
    orm,
    redis: fastRedis,
    pubSub,
    logger,
    namespace: databaseNameOf(config.database.url),
    metrics: metrics.usage,
  });
  await usage.start();
  return usage;
}

/** What only an instance with Stripe has: the webhook pipeline, and buying credits. */
function stripeWork(
  config: Config,
  orm: Orm,
  core: CoreServices,
  credits: CreditServices,
  stripe: StripeServices | null,
  metrics: BillingMetrics,
  logger: Logger,
): { pipeline: WebhookPipeline | null; purchases: CreditPurchaseServices | null } {
  if (!stripe) return { pipeline: null, purchases: null };
  return {
    pipeline: buildWebhookPipeline(config, orm, { ...core, credits }, stripe, metrics, logger),
    purchases: buildCreditPurchaseServices(config, orm, core, stripe, credits, logger),
  };
}

/** The inbox's and the overage reports' backlogs, read at scrape time for `/metrics`. */
function watchBacklogs({ orm, metrics }: Infrastructure, logger: Logger): void {
  metrics.readInboxWith(
    () => readInboxBacklog(orm),
    (error) => logger.warn({ err: error }, 'could not read the webhook inbox backlog for /metrics'),
  );
  metrics.readOverageReportsWith(
    () => readOverageReportBacklog(orm, STUCK_REPORT),
    (error) => logger.warn({ err: error }, 'could not read the pending overage reports for /metrics'),
  );
}

function stopClock(clock: Clock): void {
  if (isFollowing(clock)) clock.stop();
}

/** The process logger and the access log, on a sink a test hands in or on stdout written in buffered batches. */
function openLogs(config: Config, sink: DestinationStream | undefined) {
  const logOutput = sink ? null : bufferedStdout();
  const destination = sink ?? (logOutput?.stream as DestinationStream);
  return {
    logger: createLogger(config, destination),
    accessLogger: config.accessLog ? new AccessLogger(config.logLevel, destination) : null,
    logOutput,
  };
}
