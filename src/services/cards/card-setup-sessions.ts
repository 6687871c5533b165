import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { BillingError, ErrorCode } from '../../errors';
import type { AccountProfile, CustomerManager } from '../accounts/customer-manager';
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

/** A setup session retried within this window (a double click, a network retry) returns the same session. */
const SAME_SETUP_WINDOW_MS = 10 * 60 * 1000;

/** How many no-longer-open sessions a window's key may hand back before we give up (see CheckoutSessions). */
const MAX_CLOSED_REPLAYS = 5;

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
    let name = `card-setup.create:${profile.accountId}:${Math.floor(Date.now() / SAME_SETUP_WINDOW_MS)}`;
    for (let attempt = 0; attempt <= MAX_CLOSED_REPLAYS; attempt++) {
      const answer = await this.stripe.call(
        'checkout.sessions.create',
        (sdk, options) => sdk.checkout.sessions.create(params, options),
        { name, params },
      );
      // A replayed answer says `open` even when that session was completed since (Stripe stores the response,
      // not the object: https://docs.stripe.com/api/idempotent_requests): read it again, and move the key on.
      const session = wasReplayed(answer)
        ? await this.stripe.call('checkout.sessions.retrieve', (sdk) =>
            sdk.checkout.sessions.retrieve(answer.id),
          )
        : answer;
      if (session.status === 'open' && session.url) return { id: session.id, url: session.url };
      name = `card-setup.create:${profile.accountId}:after:${session.id}`;
    }
    throw new BillingError(
      ErrorCode.STRIPE_ERROR,
      'Stripe kept answering with setup sessions that are no longer open; try again in a moment',
    );
  }
}

/** Stripe marks an idempotent replay with `Idempotent-Replayed: true`. */
function wasReplayed(answer: Stripe.Response<unknown>): boolean {
  return answer.lastResponse?.headers?.['idempotent-replayed'] === 'true';
}
