import type { Config } from '../config';
import type { Orm } from '../database/database';
import type { Logger } from '../logging/logger';
import type { BillingMetrics } from '../observability/metrics';
import { CustomerProfileUpdates } from '../services/accounts/customer-profile-updates';
import { CheckoutSessions } from '../services/checkout-sessions';
import { CustomerManager } from '../services/customer-manager';
import { Disputes } from '../services/disputes';
import { DuplicateSubscriptions } from '../services/duplicate-subscriptions';
import { InvoiceRefunds } from '../services/invoice-refunds';
import { PortalSessions } from '../services/portal-sessions';
import { PriceDirectory } from '../services/price-directory';
import { RedirectAllowList } from '../services/redirect-allow-list';
import { StripeClient } from '../services/stripe/stripe-client';
import { SubscriptionManager } from '../services/subscription-manager';
import { SubscriptionSync } from '../services/subscriptions/subscription-sync';
import { TrialPolicy } from '../services/trial-policy';
import { OverageReporter } from '../services/usage/overage-reporter';
import type { CoreServices } from './core-services';

/** The services that need Stripe: an instance without `STRIPE_SECRET_KEY` has none of them. */
export interface StripeServices {
  stripe: StripeClient;
  /** Reports overage to Stripe's Billing Meters: started with the app, flushed before a cancel now. */
  overageReporter: OverageReporter;
  customers: CustomerManager;
  customerProfiles: CustomerProfileUpdates;
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

export function buildStripeServices(
  config: Config,
  orm: Orm,
  core: CoreServices,
  metrics: BillingMetrics,
  logger: Logger,
): StripeServices | null {
  const { secretKey } = config.stripe;
  if (!secretKey) return null;
  const stripe = new StripeClient({ ...config.stripe, secretKey }, logger, metrics.stripe);
  const customers = new CustomerManager(stripe, logger, config.billing.clock.testClockId);
  const trials = new TrialPolicy(stripe, orm);
  const overageReporter = new OverageReporter({
    em: orm.em,
    stripe,
    catalog: core.catalog,
    logger,
    intervalMs: config.billing.usageReportIntervalMs,
    now: () => core.clock.now(),
  });
  const prices = new PriceDirectory(stripe);
  const redirects = new RedirectAllowList(config.billing.allowedRedirectOrigins);
  const subscriptionSync = new SubscriptionSync(core.catalog);
  const subscriptions = new SubscriptionManager(
    stripe,
    customers,
    subscriptionSync,
    core.catalog,
    prices,
    core.events,
    core.provisioner,
    core.clock,
    trials,
    overageReporter,
  );
  const refunds = new InvoiceRefunds(stripe);
  return {
    stripe,
    overageReporter,
    customers,
    customerProfiles: new CustomerProfileUpdates(customers, core.events),
    subscriptions,
    subscriptionSync,
    checkout: new CheckoutSessions(
      stripe,
      customers,
      subscriptions,
      core.catalog,
      prices,
      redirects,
      core.events,
      core.checkoutRecords,
      trials,
    ),
    portal: new PortalSessions(stripe, customers, redirects, portalConfigurationFinder(stripe)),
    duplicates: new DuplicateSubscriptions(stripe, core.mails, metrics.duplicates),
    refunds,
    disputes: new Disputes(stripe, refunds, core.mails, metrics.disputes),
    trials,
  };
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
