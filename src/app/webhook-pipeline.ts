import type { Config } from '../config';
import type { Orm } from '../database/database';
import type { Logger } from '../logging/logger';
import type { BillingMetrics } from '../observability/metrics';
import { CustomerSync } from '../services/accounts/customer-sync';
import { CheckoutSync } from '../services/checkout/checkout-sync';
import { Reconciler, reconcilerSettings } from '../webhooks/reconciler/reconciler';
import { InboxReads } from '../webhooks/inbox/inbox-reads';
import { WebhookInbox } from '../webhooks/inbox/webhook-inbox';
import { WebhookProcessor } from '../webhooks/pipeline/webhook-processor';
import type { CoreServices } from './core-services';
import type { StripeServices } from './stripe-services';

/** What turns Stripe's events into our state: the webhook endpoint's processor, and the reconciler behind it. */
export interface WebhookPipeline {
  processor: WebhookProcessor;
  /** Catches up with Stripe's events, retries the inbox, sweeps grace periods, resyncs an account. */
  reconciler: Reconciler;
}

/** What the admin API reads and does with the inbox: the inbox is readable without Stripe, the rest is not. */
export interface WebhookAdmin {
  inbox: InboxReads;
  reconciler: Reconciler | null;
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

export function webhookAdmin(orm: Orm, pipeline: WebhookPipeline | null): WebhookAdmin {
  return { inbox: new InboxReads(orm), reconciler: pipeline?.reconciler ?? null };
}

/** The webhook processor (also what `npm run stripe:reconcile` processes events with). */
export function createWebhookProcessor(
  orm: Orm,
  core: CoreServices,
  stripe: StripeServices,
  metrics: BillingMetrics | null,
  logger: Logger,
): WebhookProcessor {
  const customers = new CustomerSync(stripe.customers);
  return new WebhookProcessor(
    orm,
    new WebhookInbox(orm, logger),
    {
      stripe: stripe.stripe,
      clock: core.clock,
      customers,
      subscriptions: stripe.subscriptionSync,
      invoices: core.invoices,
      paymentMethods: core.paymentMethods,
      provisioner: core.provisioner,
      // Mails go to the outbox inside the event's transaction; the mail worker sends them.
      notifications: core.mails,
      checkouts: new CheckoutSync(core.checkoutRecords, customers, stripe.subscriptionSync),
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
