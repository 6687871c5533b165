import type { Config } from '../config';
import type { Orm } from '../database/database';
import type { Logger } from '../logging/logger';
import type { BillingMetrics } from '../observability/metrics';
import { Reconciler, reconcilerSettings } from '../services/reconciler';
import { WebhookProcessor } from '../webhooks/webhook-processor';
import type { CoreServices } from './core-services';
import type { StripeServices } from './stripe-services';

/** What turns Stripe's events into our state: the webhook endpoint's processor, and the reconciler behind it. */
export interface WebhookPipeline {
  processor: WebhookProcessor;
  /** Catches up with Stripe's events, retries the inbox, sweeps grace periods, resyncs an account. */
  reconciler: Reconciler;
}

export function buildWebhookPipeline(
  config: Config,
  orm: Orm,
  core: CoreServices,
  stripe: StripeServices,
  metrics: BillingMetrics | null,
  logger: Logger,
): WebhookPipeline {
  const processor = createWebhookProcessor(orm, core, stripe, metrics, logger);
  const reconciler = new Reconciler(orm, processor, { ...core, stripe }, reconcilerSettings(config), logger);
  return { processor, reconciler };
}

/** The webhook processor (also what `npm run stripe:reconcile` processes events with). */
export function createWebhookProcessor(
  orm: Orm,
  core: CoreServices,
  stripe: StripeServices,
  metrics: BillingMetrics | null,
  logger: Logger,
): WebhookProcessor {
  return new WebhookProcessor(
    orm,
    {
      stripe: stripe.stripe,
      clock: core.clock,
      customers: stripe.customers,
      subscriptions: stripe.subscriptionSync,
      invoices: core.invoices,
      paymentMethods: core.paymentMethods,
      provisioner: core.provisioner,
      // Mails go to the outbox inside the event's transaction; the mail worker sends them.
      notifications: core.mails,
      checkouts: core.checkoutRecords,
      duplicates: stripe.duplicates,
      refunds: stripe.refunds,
      disputes: stripe.disputes,
      trials: stripe.trials,
      logger,
    },
    core.events,
    logger,
    metrics,
  );
}
