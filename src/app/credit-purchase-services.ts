import type { Config } from '../config';
import { RedirectAllowList } from '../services/checkout/redirect-allow-list';
import { CreditCheckout } from '../services/credits/credit-checkout';
import { CreditPurchases } from '../services/credits/credit-purchases';
import { PriceDirectory } from '../services/stripe/price-directory';
import { TaxPolicy } from '../services/tax/tax-policy';
import type { CoreServices } from './core-services';
import type { CreditServices } from './credit-services';
import type { StripeServices } from './stripe-services';

/** Buying credit packs (issue 17, item 2): on Checkout, or charged to the saved card. Both need Stripe. */
export interface CreditPurchaseServices {
  checkout: CreditCheckout;
  purchases: CreditPurchases;
}

export function buildCreditPurchaseServices(
  config: Config,
  core: CoreServices,
  stripe: StripeServices,
  credits: CreditServices,
): CreditPurchaseServices {
  const prices = new PriceDirectory(stripe.stripe);
  const tax = new TaxPolicy(config.tax.automatic);
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
    purchases: new CreditPurchases(
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
    ),
  };
}
