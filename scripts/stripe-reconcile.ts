/**
 * `npm run stripe:reconcile`: walks Stripe's events forward from the last one the reconciler got past, processes
 * any we missed (through the same inbox and handlers as the webhook endpoint), retries inbox rows whose next
 * attempt is due, and prints what it did. `npm run stripe:reconcile -- --account <id>` instead resyncs one account from Stripe.
 * Uses the service's own configuration; exits non-zero if an event still failed or on any problem.
 */
import { ConfigError, loadProcessConfig } from '../src/config';
import { openDatabase } from '../src/database/database';
import { createLogger } from '../src/logging/pino-logger';
import { InMemoryPubSub } from '../src/pubsub/in-memory-pubsub';
import type { BillingPubSub } from '../src/pubsub/pubsub';
import { RedisBillingPubSub } from '../src/pubsub/redis-pubsub';
import { databaseNameOf } from '../src/app/infrastructure';
import { buildCoreServices } from '../src/app/core-services';
import { buildStripeServices } from '../src/app/stripe-services';
import { buildCreditServices } from '../src/app/credit-services';
import { buildWebhookPipeline } from '../src/app/webhook-pipeline';
import { BillingMetrics } from '../src/observability/metrics';
import { METRIC_KEYS } from '../src/services/plans/plan.types';

function accountArgument(args: readonly string[]): string | null {
  const index = args.indexOf('--account');
  if (index === -1) return null;
  const accountId = args[index + 1];
  if (!accountId || accountId.startsWith('--')) throw new ConfigError(['--account needs an account id']);
  return accountId;
}

async function main(): Promise<void> {
  const accountId = accountArgument(process.argv.slice(2));
  const config = loadProcessConfig();
  if (!config.stripe.secretKey)
    throw new ConfigError(['STRIPE_SECRET_KEY is required: set it to sk_test_… or sk_live_…']);
  const logger = createLogger(config);
  const orm = await openDatabase({ url: config.database.url, poolMax: 2 });
  // Redis when configured, so subscribers of the running service see the accounts this run changes.
  const pubSub: BillingPubSub = config.redis
    ? new RedisBillingPubSub(config.redis.url, databaseNameOf(config.database.url))
    : new InMemoryPubSub();
  try {
    const core = buildCoreServices(config, pubSub, logger);
    const metrics = new BillingMetrics({ usageMetricKeys: METRIC_KEYS });
    const stripe = buildStripeServices(config, orm, core, metrics, logger);
    if (!stripe) throw new ConfigError(['STRIPE_SECRET_KEY is required']);
    const credits = buildCreditServices({ orm, pubSub, logger }, core);
    const { reconciler } = buildWebhookPipeline(config, orm, { ...core, credits }, stripe, metrics, logger);
    if (accountId) {
      const summary = await reconciler.resyncAccount(accountId);
      console.log(
        `stripe:reconcile: resynced ${summary.accountId}: ${summary.subscriptions} subscription(s), ` +
          `${summary.invoices} invoice(s), ${summary.paymentMethods} payment method(s); plan ${summary.planKey}`,
      );
      return;
    }
    const summary = await reconciler.catchUp();
    const cursor = summary.cursors
      .map(
        (place) =>
          `${place.name} ${[place.created, place.eventId].filter((part) => part !== null).join(' ') || 'none'}`,
      )
      .join(', ');
    console.log(
      `stripe:reconcile: seen ${summary.seen}, processed ${summary.processed}, duplicates ${summary.duplicates}, ` +
        `ignored ${summary.ignored}, retried ${summary.retried}, failed ${summary.failed}; cursors ${cursor}` +
        (summary.backlog ? '; more events than one run processes: run it again to continue' : ''),
    );
    for (const failure of summary.failures) {
      const state = failure.dead ? 'dead (no more automatic retries)' : 'failed (the inbox retries it)';
      console.log(`  ${state} ${failure.eventId} (${failure.type}): ${failure.error}`);
    }
    if (summary.failed > 0) process.exitCode = 1;
  } finally {
    await Promise.allSettled([orm.close(), pubSub.close()]);
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else console.error('stripe:reconcile failed:', error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
