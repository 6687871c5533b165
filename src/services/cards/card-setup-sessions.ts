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

/** A SetupIntent a page confirms with Stripe.js (Elements): its id and the secret Stripe.js takes. */
export interface CardSetupIntent {
  id: string;
  clientSecret: string;
}

/** The same SetupIntent is handed back when asked again within this window (a double click, a network retry). */
const SAME_INTENT_WINDOW_MS = 10 * 60 * 1000;

/** How many replayed intents that can no longer be confirmed may move the key on before we give up. */
const MAX_CLOSED_REPLAYS = 5;

/**
 * The statuses in which a page can still confirm a SetupIntent; `succeeded` and `canceled` are final
 * (https://docs.stripe.com/payments/setupintents/lifecycle).
 */
const CONFIRMABLE = new Set(['requires_payment_method', 'requires_confirmation', 'requires_action']);

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

  /**
   * For a team that collects the card with Stripe Elements: a SetupIntent for the account's customer, cards only,
   * set up for payments made without the customer (`usage: off_session`, the renewals; "Create a SetupIntent when
   * you're ready to collect your customer's payment credentials. Don't maintain long-lived, unconfirmed
   * SetupIntents", https://docs.stripe.com/api/setup_intents). Stripe attaches the card to the customer once the page
   * confirms it (`setup_intent.succeeded`, `payment_method.attached`: the card rows follow), running 3-D Secure in
   * Stripe.js when the bank asks. Asked again within the window, the same intent comes back while it can still be
   * confirmed; a replayed one that succeeded or was cancelled moves the key on, so a retry walks the same chain.
   */
  async createIntent(em: EntityManager, profile: AccountProfile): Promise<CardSetupIntent> {
    const customer = await this.customers.ensure(em, profile);
    const params = {
      customer: customer.stripeCustomerId as string,
      payment_method_types: ['card'],
      usage: 'off_session' as const,
      metadata: { account_id: profile.accountId, purpose: 'add_card' },
    };
    let name = `card-setup-intent.create:${profile.accountId}:${Math.floor(Date.now() / SAME_INTENT_WINDOW_MS)}`;
    for (let attempt = 0; attempt <= MAX_CLOSED_REPLAYS; attempt++) {
      const answer = await this.stripe.call(
        'setupIntents.create',
        (sdk, options) => sdk.setupIntents.create(params, options),
        { name, params },
      );
      const setupIntent =
        answer.lastResponse?.headers?.['idempotent-replayed'] === 'true'
          ? await this.stripe.call('setupIntents.retrieve', (sdk) => sdk.setupIntents.retrieve(answer.id))
          : answer;
      if (CONFIRMABLE.has(setupIntent.status) && setupIntent.client_secret)
        return { id: setupIntent.id, clientSecret: setupIntent.client_secret };
      name = `card-setup-intent.create:${profile.accountId}:after:${setupIntent.id}`;
    }
    throw new BillingError(
      ErrorCode.STRIPE_ERROR,
      'Stripe kept answering with SetupIntents that can no longer be confirmed; try again in a moment',
    );
  }
}
