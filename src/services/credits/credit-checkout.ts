import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { CustomerCurrency } from '../accounts/customer-currency';
import type { AccountProfile, CustomerManager } from '../accounts/customer-manager';
import { createOpenSession } from '../checkout/open-session';
import type { RedirectAllowList } from '../checkout/redirect-allow-list';
import type { PlanCatalog } from '../plans/plan-catalog';
import type { PriceDirectory } from '../stripe/price-directory';
import type { StripeClient } from '../stripe/stripe-client';
import type { TaxPolicy } from '../tax/tax-policy';
import { packSaleOf } from './credit-pack-sale';

export interface CreditCheckoutRequest {
  packKey: string;
  successUrl: string;
  cancelUrl: string;
}

export interface CreditCheckoutView {
  sessionId: string;
  url: string | null;
}

/**
 * A credit pack bought on Stripe's Checkout page (`payment` mode, the pack's one-time price). Checkout makes the
 * purchase an invoice (`invoice_creation`, https://docs.stripe.com/payments/checkout/receipts#paid-invoices) paid by
 * the session's payment, so it is granted as every pack is: from `invoice.paid` (ADR 0026). The session changes
 * nothing of ours when it completes.
 */
export class CreditCheckout {
  constructor(
    private readonly stripe: StripeClient,
    private readonly customers: CustomerManager,
    private readonly catalog: PlanCatalog,
    private readonly prices: PriceDirectory,
    private readonly currencies: CustomerCurrency,
    private readonly redirects: RedirectAllowList,
    private readonly tax: TaxPolicy,
  ) {}

  async create(
    em: EntityManager,
    profile: AccountProfile,
    request: CreditCheckoutRequest,
  ): Promise<CreditCheckoutView> {
    const successUrl = this.redirects.check(request.successUrl, 'successUrl');
    const cancelUrl = this.redirects.check(request.cancelUrl, 'cancelUrl');
    const customer = await this.customers.ensure(em, profile);
    const sale = await packSaleOf(em, this.sale(), customer, request.packKey);
    const params: Stripe.Checkout.SessionCreateParams = {
      mode: 'payment',
      customer: customer.stripeCustomerId as string,
      client_reference_id: profile.accountId,
      // The price's option in the account's currency is charged
      // (https://docs.stripe.com/payments/checkout/present-local-currencies#manual-currency-prices).
      currency: sale.currency,
      line_items: [{ price: sale.priceId, quantity: 1 }],
      success_url: successUrl,
      cancel_url: cancelUrl,
      metadata: sale.metadata,
      // Not saved for later (`setup_future_usage` unset): a saved card is the customer's choice (addCard).
      payment_intent_data: { metadata: sale.metadata },
      invoice_creation: { enabled: true, invoice_data: { metadata: sale.metadata } },
      ...this.tax.checkout(),
    };
    // The same pack asked for again within the window (a double click) is the same session.
    const session = await createOpenSession(
      this.stripe,
      `credits.checkout:${profile.accountId}:${sale.pack.key}`,
      params,
    );
    return { sessionId: session.id, url: session.url };
  }

  private sale() {
    return { catalog: this.catalog, currencies: this.currencies, prices: this.prices };
  }
}
