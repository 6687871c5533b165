import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingError, ErrorCode } from '../../errors';
import type { AccountProfile, CustomerManager } from '../accounts/customer-manager';
import { createOpenSession } from '../checkout/open-session';
import type { RedirectAllowList } from '../checkout/redirect-allow-list';
import type { StripeClient } from '../stripe/stripe-client';

export interface CardSetupRequest {
  successUrl: string;
  cancelUrl: string;
}

export interface CardSetupSession {
  id: string;
  url: string;
}

/**
 * Adding a card without card data ever reaching the page: Stripe Checkout in `setup` mode saves a card to the
 * account's customer (https://docs.stripe.com/payments/save-and-reuse?platform=checkout). The card arrives through
 * `payment_method.attached` and `checkout.session.completed`; it does not become the default by itself (Checkout
 * in setup mode sets no default: `setDefaultPaymentMethod` does).
 */
export class CardSetupSessions {
  constructor(
    private readonly stripe: StripeClient,
    private readonly customers: CustomerManager,
    private readonly redirects: RedirectAllowList,
  ) {}

  async create(
    em: EntityManager,
    profile: AccountProfile,
    request: CardSetupRequest,
  ): Promise<CardSetupSession> {
    const successUrl = this.redirects.check(request.successUrl, 'successUrl');
    const cancelUrl = this.redirects.check(request.cancelUrl, 'cancelUrl');
    const customer = await this.customers.ensure(em, profile);
    const params = {
      mode: 'setup' as const,
      customer: customer.stripeCustomerId as string,
      // Cards only: the rest of the service (card rows, the trial's card fingerprint) knows no other type.
      payment_method_types: ['card' as const],
      client_reference_id: profile.accountId,
      metadata: { account_id: profile.accountId, purpose: 'add_card' },
      success_url: successUrl,
      cancel_url: cancelUrl,
    };
    const session = await createOpenSession(this.stripe, `card-setup.create:${profile.accountId}`, params);
    if (!session.url)
      throw new BillingError(ErrorCode.STRIPE_ERROR, 'Stripe answered a setup session without a URL');
    return { id: session.id, url: session.url };
  }
}
