import type { Config } from '../config';
import type { Orm } from '../database/database';
import type { Logger } from '../logging/logger';
import type { BillingMetrics } from '../observability/metrics';
import { CustomerProfileUpdates } from '../services/accounts/customer-profile-updates';
import { CardChoices } from '../services/cards/card-choices';
import { CardSetupSessions } from '../services/cards/card-setup-sessions';
import { CheckoutSessions } from '../services/checkout/checkout-sessions';
import { expireOpenCheckouts } from '../services/checkout/open-checkouts';
import { CustomerManager } from '../services/accounts/customer-manager';
import { Disputes } from '../services/invoices/disputes';
import { DuplicateSubscriptions } from '../services/subscriptions/duplicate-subscriptions';
import { InvoiceCredits } from '../services/invoices/invoice-credits';
import { InvoiceDetails } from '../services/invoices/invoice-details';
import { InvoiceRefunds } from '../services/invoices/invoice-refunds';
import { PortalSessions } from '../services/checkout/portal-sessions';
import { PriceDirectory } from '../services/stripe/price-directory';
import { RedirectAllowList } from '../services/checkout/redirect-allow-list';
import { StripeClient } from '../services/stripe/stripe-client';
import { ChargedUpdates } from '../services/subscriptions/charged-updates';
import { PlanChanges } from '../services/subscriptions/plan-changes';
import { SeatChanges } from '../services/subscriptions/seat-changes';
import { PromotionCodeCheck } from '../services/promotions/promotion-code-check';
import { SubscriptionPromotions } from '../services/promotions/subscription-promotions';
import { SubscriptionAddons } from '../services/addons/subscription-addons';
import { PlanRules } from '../services/subscriptions/plan-rules';
import { SubscriptionCancellation } from '../services/subscriptions/subscription-cancellation';
import { SubscriptionCreation } from '../services/subscriptions/subscription-creation';
import { SubscriptionManager } from '../services/subscriptions/subscription-manager';
import { SubscriptionStore } from '../services/subscriptions/subscription-store';
import { SubscriptionSync } from '../services/subscriptions/subscription-sync';
import { TrialPolicy } from '../services/subscriptions/trial-policy';
import { OverageReporter } from '../services/usage/overage-reporter';
import { CustomerTaxIds } from '../services/accounts/customer-tax-ids';
import { InvoiceTaxes } from '../services/tax/invoice-taxes';
import { TaxPolicy } from '../services/tax/tax-policy';
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
  /** Adding a card on Stripe's hosted page (Checkout in setup mode). */
  cardSetups: CardSetupSessions;
  /** The default card, and removing one. */
  cardChoices: CardChoices;
  /** Invoices in full and the next bill, read from Stripe. */
  invoiceDetails: InvoiceDetails;
  /** Admin refunds and credits, through credit notes. */
  invoiceCredits: InvoiceCredits;
  /** One paid subscription per account: duplicates found on webhooks are cancelled and refunded. */
  duplicates: DuplicateSubscriptions;
  refunds: InvoiceRefunds;
  disputes: Disputes;
  /** One trial per account and per card. */
  trials: TrialPolicy;
  /** Promotion codes on a live subscription, and the discount it carries. */
  promotions: SubscriptionPromotions;
  /** Add-ons beside the plan: bought now, removed at the period end. */
  addons: SubscriptionAddons;
  /** Seats of plans priced per seat (ADR 0024). */
  seats: SeatChanges;
  /** The customer's VAT and other tax IDs (Stripe Tax, ADR 0024). */
  taxIds: CustomerTaxIds;
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
  const tax = new TaxPolicy(config.tax.automatic);
  const taxes = new InvoiceTaxes(stripe);
  const customers = new CustomerManager(stripe, logger, config.billing.clock.testClockId, core.clock, tax);
  const trials = new TrialPolicy(stripe, orm);
  const overageReporter = overageReporterOf(config, orm, core, stripe, logger);
  const prices = new PriceDirectory(stripe);
  const redirects = new RedirectAllowList(config.billing.allowedRedirectOrigins);
  const subscriptionSync = new SubscriptionSync(core.catalog);
  const store = new SubscriptionStore(stripe, customers, subscriptionSync, core.provisioner, core.clock);
  const rules = new PlanRules(core.catalog, prices);
  const charged = new ChargedUpdates(stripe, store, core.clock, core.invoices);
  const changes = new PlanChanges(stripe, store, rules, core.events, core.clock, charged, tax, taxes);
  const seats = new SeatChanges(store, rules, core.events, charged, core.clock, tax, changes);
  const subscriptions = new SubscriptionManager({
    store,
    creation: new SubscriptionCreation(
      stripe,
      customers,
      store,
      rules,
      core.events,
      core.clock,
      trials,
      (stripeCustomerId) => expireOpenCheckouts(stripe, stripeCustomerId),
      core.invoices,
      tax,
      core.currencies,
    ),
    changes,
    cancellation: cancellationOf(stripe, store, changes, rules, core, overageReporter),
  });
  const promotionCodeCheck = new PromotionCodeCheck(stripe, core.clock);
  const refunds = new InvoiceRefunds(stripe);
  const invoiceCredits = new InvoiceCredits(stripe, refunds, core.events);
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
      store,
      core.catalog,
      prices,
      redirects,
      core.events,
      core.checkoutRecords,
      trials,
      promotionCodeCheck,
      tax,
      core.currencies,
    ),
    cardSetups: new CardSetupSessions(stripe, customers, redirects),
    cardChoices: new CardChoices(stripe, customers, store, core.paymentMethods, core.events, core.clock),
    invoiceDetails: new InvoiceDetails(stripe, invoiceCredits, taxes),
    invoiceCredits,
    portal: new PortalSessions(stripe, customers, redirects, portalConfigurationFinder(stripe)),
    duplicates: new DuplicateSubscriptions(stripe, core.mails, metrics.duplicates),
    refunds,
    disputes: new Disputes(stripe, refunds, core.mails, metrics.disputes),
    trials,
    promotions: new SubscriptionPromotions(stripe, store, rules, promotionCodeCheck, core.events),
    addons: new SubscriptionAddons(store, rules, changes, charged, core.catalog, core.events, core.clock),
    seats,
    taxIds: new CustomerTaxIds(stripe, customers, core.events),
  };
}

/** Cancelling and resuming: the overage reported before a cancel now, on billing's clock (calls in flight). */
function cancellationOf(
  stripe: StripeClient,
  store: SubscriptionStore,
  changes: PlanChanges,
  rules: PlanRules,
  core: CoreServices,
  overageReporter: OverageReporter,
): SubscriptionCancellation {
  return new SubscriptionCancellation(
    stripe,
    store,
    changes,
    rules,
    core.events,
    overageReporter,
    core.clock,
  );
}

function overageReporterOf(
  config: Config,
  orm: Orm,
  core: CoreServices,
  stripe: StripeClient,
  logger: Logger,
): OverageReporter {
  return new OverageReporter({
    em: orm.em,
    stripe,
    catalog: core.catalog,
    logger,
    intervalMs: config.billing.usageReportIntervalMs,
    now: () => core.clock.now(),
  });
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
