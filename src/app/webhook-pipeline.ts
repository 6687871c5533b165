import type { Config } from '../config';
import type { Orm } from '../database/database';
import type { Logger } from '../logging/logger';
import type { BillingMetrics } from '../observability/metrics';
import { CustomerSync } from '../services/accounts/customer-sync';
import { CheckoutSync } from '../services/checkout/checkout-sync';
import { AccountResync, type ReconcilerServices } from '../webhooks/reconciler/account-resync';
import { CatchUp } from '../webhooks/reconciler/catch-up';
import { CreditPurchaseCheck } from '../webhooks/reconciler/credit-purchase-check';
import { EventReplay } from '../webhooks/reconciler/event-replay';
import { EventsCursorStore } from '../webhooks/reconciler/events-cursor';
import { eventTypePasses } from '../webhooks/reconciler/event-type-passes';
import { RECONCILED_EVENT_TYPES } from '../webhooks/handlers';
import { GracePeriodSweep } from '../webhooks/reconciler/grace-period-sweep';
import { ReconcileLock } from '../webhooks/reconciler/reconcile-lock';
import {
  DEFAULT_LIMITS,
  Reconciler,
  type ReconcilerSettings,
  reconcilerSettings,
  StopSignal,
} from '../webhooks/reconciler/reconciler';
import { StripeEventPages } from '../webhooks/reconciler/stripe-event-pages';
import { InboxReads } from '../webhooks/inbox/inbox-reads';
import { WebhookInbox } from '../webhooks/inbox/webhook-inbox';
import { WebhookProcessor } from '../webhooks/pipeline/webhook-processor';
import { WebhookQueue } from '../webhooks/pipeline/webhook-queue';
import { InboxClaims } from '../webhooks/inbox/inbox-claims';
import { InboxIntake } from '../webhooks/inbox/inbox-intake';
import type { CreditServices } from './credit-services';
import type { CoreServices } from './core-services';
import type { StripeServices } from './stripe-services';

/** The core services, and the credit packs `invoice.paid` and `charge.refunded` grant and take back. */
export type PipelineCore = CoreServices & { credits: Pick<CreditServices, 'packInvoices'> };

/**
 * What turns Stripe's events into our state: the webhook endpoint's queue and the processor its workers (and the
 * reconciler) process events with, and the reconciler behind them.
 */
export interface WebhookPipeline {
  processor: WebhookProcessor;
  /** Stores each delivery and processes it behind the answer (ADR 0020). */
  queue: WebhookQueue;
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
  core: PipelineCore,
  stripe: StripeServices,
  metrics: BillingMetrics | null,
  logger: Logger,
): WebhookPipeline {
  const processor = createWebhookProcessor(orm, core, stripe, metrics, logger);
  const queue = new WebhookQueue(
    new InboxIntake(orm, (size) => metrics?.webhooks.intakeGroup(size)),
    new InboxClaims(orm),
    processor,
    config.billing.webhookQueue,
    logger,
    metrics?.webhooks ?? null,
  );
  const reconciler = createReconciler(
    orm,
    processor,
    { ...core, stripe },
    reconcilerSettings(config),
    logger,
  );
  return { processor, queue, reconciler };
}

export function webhookAdmin(orm: Orm, pipeline: WebhookPipeline | null): WebhookAdmin {
  return { inbox: new InboxReads(orm), reconciler: pipeline?.reconciler ?? null };
}

/** The webhook processor (also what `npm run stripe:reconcile` processes events with). */
export function createWebhookProcessor(
  orm: Orm,
  core: PipelineCore,
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
      creditPacks: core.credits.packInvoices,
      logger,
    },
    core.events,
    logger,
    metrics,
  );
}

/** The reconciler and its jobs, over the same pipeline as the webhook endpoint (`processor`). */
export function createReconciler(
  orm: Orm,
  processor: WebhookProcessor,
  services: ReconcilerServices,
  settings: ReconcilerSettings,
  logger: Logger,
): Reconciler {
  const limits = { ...DEFAULT_LIMITS, ...settings.limits };
  const stop = new StopSignal();
  const isStopping = () => stop.requested;
  const inbox = new WebhookInbox(orm, logger);
  const inboxReads = new InboxReads(orm);
  const listings = eventTypePasses(RECONCILED_EVENT_TYPES).map((pass) => ({
    cursor: new EventsCursorStore(orm, pass.cursorName),
    pages: new StripeEventPages(services.stripe.stripe, pass.types, limits, logger, isStopping),
  }));
  const parts = { processor, inbox, inboxReads, listings };
  const jobs = {
    catchUp: new CatchUp(parts, limits, logger, isStopping),
    sweep: new GracePeriodSweep(orm, services.provisioner, services.events, logger, isStopping),
    resync: new AccountResync(orm, services, logger),
    replay: new EventReplay(processor, inbox, inboxReads, logger),
    creditPurchases: new CreditPurchaseCheck(
      orm,
      services.stripe.stripe,
      services.credits.packInvoices,
      logger,
    ),
  };
  const lock = new ReconcileLock(settings.databaseUrl);
  return new Reconciler(jobs, lock, stop, settings.intervalMs, services.clock, logger);
}
