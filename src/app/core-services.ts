import type { Config } from '../config';
import type { Logger } from '../logging/logger';
import type { BillingPubSub } from '../pubsub/pubsub';
import { AccountEvents } from '../services/accounts/account-events';
import { AccountReads } from '../services/accounts/account-reads';
import { CheckoutRecords } from '../services/checkout/checkout-records';
import { type Clock, EmulatorClock, StripeTestClock, wallClock } from '../services/time/clock';
import { FeatureProvisioner } from '../services/subscriptions/feature-provisioner';
import { InvoiceSync } from '../services/invoices/invoice-sync';
import { BillingMails } from '../services/notifications/billing-mails';
import { Notifier } from '../services/notifications/notifier';
import { PaymentMethodSync } from '../services/invoices/payment-method-sync';
import { loadPlanCatalog, type PlanCatalog } from '../services/plans/plan-catalog';
import { CustomerCurrency } from '../services/accounts/customer-currency';
import { StripeClient } from '../services/stripe/stripe-client';

/** The services every instance has, with or without Stripe. */
export interface CoreServices {
  /** Billing's "now" (see `clock.ts`): what every rule about time reads. */
  clock: Clock;
  catalog: PlanCatalog;
  events: AccountEvents;
  provisioner: FeatureProvisioner;
  /** The mails webhooks cause, written to the outbox in the event's transaction. */
  mails: BillingMails;
  invoices: InvoiceSync;
  paymentMethods: PaymentMethodSync;
  checkoutRecords: CheckoutRecords;
  accountReads: AccountReads;
  /** Which currency each account pays in (chosen once, kept). */
  currencies: CustomerCurrency;
}

export function buildCoreServices(
  config: Config,
  pubSub: BillingPubSub,
  logger: Logger,
  catalog: PlanCatalog = loadPlanCatalog(),
): CoreServices {
  return {
    clock: clockOf(config, logger),
    catalog,
    events: new AccountEvents(pubSub, logger),
    provisioner: new FeatureProvisioner(catalog, config.billing.gracePeriodDays),
    mails: new BillingMails(new Notifier(logger), catalog, logger, config.billing.adminEmails),
    invoices: new InvoiceSync(),
    paymentMethods: new PaymentMethodSync(),
    checkoutRecords: new CheckoutRecords(),
    accountReads: new AccountReads(),
    currencies: new CustomerCurrency(catalog),
  };
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
