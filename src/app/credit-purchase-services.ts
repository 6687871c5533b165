import type { Config } from '../config';
import { RedirectAllowList } from '../services/checkout/redirect-allow-list';
import { CreditCheckout } from '../services/credits/credit-checkout';
import { AutoTopUps } from '../services/credits/auto-top-up';
import { CreditPurchases } from '../services/credits/credit-purchases';
import { Notifier } from '../services/notifications/notifier';
import type { Orm } from '../database/database';
import type { Logger } from '../logging/logger';
import { PriceDirectory } from '../services/stripe/price-directory';
import { TaxPolicy } from '../services/tax/tax-policy';
import type { CoreServices } from './core-services';
import type { CreditServices } from './credit-services';
import type { StripeServices } from './stripe-services';

/** Buying credit packs (issue 17, item 2): on Checkout, or charged to the saved card. Both need Stripe. */
export interface CreditPurchaseServices {
  checkout: CreditCheckout;
  purchases: CreditPurchases;
  autoTopUps: AutoTopUps;
}

export function buildCreditPurchaseServices(
  config: Config,
  orm: Orm,
  core: CoreServices,
  stripe: StripeServices,
  credits: CreditServices,
  logger: Logger,
): CreditPurchaseServices {
  const prices = new PriceDirectory(stripe.stripe);
  const tax = new TaxPolicy(config.tax.automatic);
  const purchases = new CreditPurchases(
    stripe.stripe,
    stripe.customers,
    core.catalog,
    prices,
    core.currencies,
    tax,
    core.invoices,
    credits.packInvoices,
    credits.ledger,
    core.clock,
  );
  const autoTopUps = new AutoTopUps(
    orm,
    core.catalog,
    core.currencies,
    purchases,
    new Notifier(logger),
    core.clock,
    logger,
    async (accountId) => (await credits.ledger.balanceOf(accountId)).available,
    credits.spendLimits,
  );
  credits.events.onAutoTopUpBalanceChanged((accountId, available) =>
    autoTopUps.afterBalanceChange(accountId, available),
  );
  credits.sweep.addPass(() => autoTopUps.resumeStale());
  return {
    checkout: new CreditCheckout(
      stripe.stripe,
      stripe.customers,
      core.catalog,
      prices,
      core.currencies,
      new RedirectAllowList(config.billing.allowedRedirectOrigins),
      tax,
    ),
    purchases,
    autoTopUps,
  };
}
