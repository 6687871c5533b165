import type { Config } from '../config';
import { BillingMetrics } from '../observability/metrics';
import { BillingError, ErrorCode } from '../errors';
import { type Clock, EmulatorClock, StripeTestClock, wallClock } from './clock';
import type { BillingPubSub } from '../pubsub/pubsub';
import { AccountEvents } from './account-events';
import { CheckoutRecords } from './checkout-records';
import { CheckoutSessions } from './checkout-sessions';
import { CustomerManager } from './customer-manager';
import { Disputes } from './disputes';
import { DuplicateSubscriptions } from './duplicate-subscriptions';
import { FeatureProvisioner } from './feature-provisioner';
import { InvoiceRefunds } from './invoice-refunds';
import { InvoiceSync } from './invoice-sync';
import { PaymentMethodSync } from './payment-method-sync';
import type { Logger } from '../logging/logger';
import { BillingMails } from './notifications/billing-mails';
import { Notifier } from './notifications/notifier';
import type { PlanCatalog } from './plans/plan-catalog';
import { PortalSessions } from './portal-sessions';
import { PriceDirectory } from './price-directory';
import { RedirectAllowList } from './redirect-allow-list';
import { StripeClient } from './stripe/stripe-client';
import { SubscriptionManager } from './subscription-manager';
import { SubscriptionSync } from './subscription-sync';
import { TrialPolicy } from './trial-policy';
import { OverageReporter } from './usage/overage-reporter';
import type { Orm } from '../database/database';
import type { UsageServices } from './usage/usage-services';

/** The services that need Stripe. */
export interface StripeServices {
  stripe: StripeClient;
  /** Reports overage to Stripe's Billing Meters: `start()`ed by the service, flushed before a cancel now. */
  overageReporter: OverageReporter;
  customers: CustomerManager;
  subscriptions: SubscriptionManager;
  subscriptionSync: SubscriptionSync;
  checkout: CheckoutSessions;
  portal: PortalSessions;
  /** One paid subscription per account: duplicates found on webhooks are cancelled and refunded. */
  duplicates: DuplicateSubscriptions;
  refunds: InvoiceRefunds;
  disputes: Disputes;
  /** One trial per account and per card. */
  trials: TrialPolicy;
}

/** The services of one running instance, built once at start-up and shared by every request. */
export class BillingServices {
  readonly events: AccountEvents;
  readonly provisioner: FeatureProvisioner;
  readonly invoices = new InvoiceSync();
  readonly paymentMethods = new PaymentMethodSync();
  /** Billing's "now" (see `clock.ts`): what every rule about time reads. */
  readonly clock: Clock;
  readonly checkoutRecords = new CheckoutRecords();
  /** The mails webhooks cause, written to the outbox in the event's transaction. */
  readonly mails: BillingMails;
  private readonly withStripe: StripeServices | null;
  private withUsage: UsageServices | null = null;

  constructor(
    config: Config,
    readonly orm: Orm,
    readonly catalog: PlanCatalog,
    readonly pubSub: BillingPubSub,
    readonly logger: Logger,
    /** This instance's Prometheus metrics (`GET /metrics`); a private registry when not given. */
    readonly metrics: BillingMetrics = new BillingMetrics(),
  ) {
    this.events = new AccountEvents(pubSub, logger);
    this.clock = clockOf(config, logger);
    this.provisioner = new FeatureProvisioner(catalog, config.billing.gracePeriodDays);
    this.mails = new BillingMails(new Notifier(logger), catalog, logger, config.billing.adminEmails);
    this.withStripe = config.stripe.secretKey
      ? this.createStripeServices(
          new StripeClient(
            { ...config.stripe, secretKey: config.stripe.secretKey },
            logger,
            this.metrics.stripe,
          ),
          config,
        )
      : null;
  }

  /** Usage metering and feature gating (attached by `startService`; scripts that serve no API go without). */
  get usage(): UsageServices {
    if (!this.withUsage) throw new Error('Usage services are not attached to this instance');
    return this.withUsage;
  }

  attachUsage(usage: UsageServices): void {
    this.withUsage = usage;
  }

  get hasStripe(): boolean {
    return this.withStripe !== null;
  }

  /** The Stripe-backed services; STRIPE_ERROR when this instance has no Stripe key configured. */
  get stripe(): StripeServices {
    if (!this.withStripe) {
      throw new BillingError(
        ErrorCode.STRIPE_ERROR,
        'Stripe is not configured on this instance: set STRIPE_SECRET_KEY',
      );
    }
    return this.withStripe;
  }

  private createStripeServices(stripe: StripeClient, config: Config): StripeServices {
    const customers = new CustomerManager(stripe, this.logger, config.billing.clock.testClockId);
    const trials = new TrialPolicy(stripe, this.orm);
    const overageReporter = new OverageReporter({
      em: this.orm.em,
      stripe,
      catalog: this.catalog,
      logger: this.logger,
      intervalMs: config.billing.usageReportIntervalMs,
      now: () => this.clock.now(),
    });
    const prices = new PriceDirectory(stripe);
    const redirects = new RedirectAllowList(config.billing.allowedRedirectOrigins);
    const sync = new SubscriptionSync(this.catalog);
    const subscriptions = new SubscriptionManager(
      stripe,
      customers,
      sync,
      this.catalog,
      prices,
      this.events,
      this.provisioner,
      this.clock,
      trials,
      overageReporter,
    );
    const refunds = new InvoiceRefunds(stripe);
    return {
      stripe,
      overageReporter,
      customers,
      subscriptions,
      subscriptionSync: sync,
      checkout: new CheckoutSessions(
        stripe,
        customers,
        subscriptions,
        this.catalog,
        prices,
        redirects,
        this.events,
        this.checkoutRecords,
        trials,
      ),
      portal: new PortalSessions(stripe, customers, redirects, portalConfigurationFinder(stripe)),
      duplicates: new DuplicateSubscriptions(stripe, this.mails, this.metrics.duplicates),
      refunds,
      disputes: new Disputes(stripe, refunds, this.mails, this.metrics.disputes),
      trials,
    };
  }
}

/** The clock `BILLING_CLOCK` names (config validation already made sure what it needs is set). */
function clockOf(config: Config, logger: Logger): Clock {
  const { source, testClockId } = config.billing.clock;
  if (source === 'emulator') return new EmulatorClock(config.stripe.apiBase as string, logger);
  if (source === 'test_clock') {
    const sdk = new StripeClient({ ...config.stripe, secretKey: config.stripe.secretKey as string }, logger)
      .sdk;
    return new StripeTestClock(sdk, testClockId as string, logger);
  }
  return wallClock;
}

/** Our Customer Portal configuration (made by `npm run stripe:sync`, tagged `metadata.coditect`), found once. */
function portalConfigurationFinder(stripe: StripeClient): () => Promise<string | null> {
  let found: string | null = null;
  return async () => {
    if (found) return found;
    const configurations = await stripe.call('billingPortal.configurations.list', (sdk) =>
      sdk.billingPortal.configurations.list({ active: true, limit: 100 }),
    );
    found = configurations.data.find((configuration) => configuration.metadata?.coditect)?.id ?? null;
    return found;
  };
}
