import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { BillingInterval, Subscription } from '../entities';
import { BadUserInputError, ConflictError, ForbiddenError, NotFoundError } from '../errors';
import type { AccountEvents } from './account-events';
import type { AccountProfile, CustomerManager } from './customer-manager';
import type { PlanCatalog } from './plans/plan-catalog';
import type { PriceDirectory } from './price-directory';
import type { RedirectAllowList } from './redirect-allow-list';
import type { StripeClient } from './stripe/stripe-client';
import type { SubscriptionManager } from './subscription-manager';
import { newSubscriptionItems } from './subscription-items';
import { PLAN_KEY_METADATA } from './subscription-sync';
import { expireOpenCheckouts } from './open-checkouts';

export interface CheckoutRequest {
  planKey: string;
  interval: BillingInterval;
  successUrl: string;
  cancelUrl: string;
  withTrial?: boolean | null;
}

export interface CheckoutSessionView {
  id: string;
  url: string | null;
  status: Stripe.Checkout.Session.Status;
  subscription: Subscription | null;
}

/** A checkout retried within this window (a double click, a network retry) returns the same session. */
const SAME_CHECKOUT_WINDOW_MS = 10 * 60 * 1000;

/**
 * Stripe Checkout for an account: sessions tied to the account (`client_reference_id`), redirect URLs on the
 * allow-list, and a read-back that syncs the new subscription at once, so the success page never shows the old
 * plan while the webhook is still on its way.
 */
export class CheckoutSessions {
  constructor(
    private readonly stripe: StripeClient,
    private readonly customers: CustomerManager,
    private readonly subscriptions: SubscriptionManager,
    private readonly catalog: PlanCatalog,
    private readonly prices: PriceDirectory,
    private readonly redirects: RedirectAllowList,
    private readonly events: AccountEvents,
  ) {}

  async create(
    em: EntityManager,
    profile: AccountProfile,
    request: CheckoutRequest,
  ): Promise<CheckoutSessionView> {
    const successUrl = withSessionId(this.redirects.check(request.successUrl, 'successUrl'));
    const cancelUrl = this.redirects.check(request.cancelUrl, 'cancelUrl');
    const plan = this.catalog.find(request.planKey);
    if (!plan) throw new BadUserInputError(`Unknown plan ${request.planKey}`, 'planKey');
    const price = plan.salesLed
      ? undefined
      : plan.prices.find((candidate) => candidate.interval === request.interval);
    if (!price)
      throw new BadUserInputError(
        `Plan ${plan.key} has no self-serve ${request.interval}ly price`,
        'planKey',
      );
    if (await this.subscriptions.live(em, profile.accountId)) {
      throw new ConflictError(
        'The account already has a subscription: change it with changeSubscription or the portal',
      );
    }

    const customer = await this.customers.ensure(em, profile);
    const metadata = { account_id: profile.accountId, [PLAN_KEY_METADATA]: plan.key };
    const trialDays = request.withTrial ? plan.trialDays : 0;
    const meteredPriceIds = await Promise.all(
      this.catalog
        .overageLookupKeys(plan.key, request.interval)
        .map((lookupKey) => this.prices.priceId(lookupKey)),
    );
    const params: Stripe.Checkout.SessionCreateParams = {
      mode: 'subscription',
      customer: customer.stripeCustomerId as string,
      client_reference_id: profile.accountId,
      // The plan, and the metered overage prices (no quantity: Stripe bills them from the meter, after the period).
      line_items: newSubscriptionItems(await this.prices.priceId(price.lookupKey), meteredPriceIds),
      success_url: successUrl,
      cancel_url: cancelUrl,
      metadata,
      subscription_data: { metadata, ...(trialDays > 0 ? { trial_period_days: trialDays } : {}) },
    };
    const session = await this.stripe.call(
      'checkout.sessions.create',
      (sdk, options) => sdk.checkout.sessions.create(params, options),
      {
        name: `checkout.create:${profile.accountId}:${Math.floor(Date.now() / SAME_CHECKOUT_WINDOW_MS)}`,
        params,
      },
    );
    await expireOpenCheckouts(this.stripe, customer.stripeCustomerId as string, session.id);
    return { id: session.id, url: session.url, status: session.status ?? 'open', subscription: null };
  }

  /** The session as Stripe has it now; once complete, its subscription is stored before this returns. */
  async read(
    em: EntityManager,
    accountId: string,
    sessionId: string,
    { asAdmin = false } = {},
  ): Promise<CheckoutSessionView> {
    if (!/^cs_\w+$/.test(sessionId))
      throw new BadUserInputError('id must be a Checkout Session id (cs_…)', 'id');
    const session = await this.stripe.call('checkout.sessions.retrieve', (sdk) =>
      sdk.checkout.sessions.retrieve(sessionId),
    );
    const owner = session.client_reference_id ?? session.metadata?.account_id ?? null;
    if (owner === null) throw new NotFoundError('This Checkout Session');
    if (owner !== accountId && !asAdmin) throw new ForbiddenError();

    let subscription: Subscription | null = null;
    const subscriptionId =
      typeof session.subscription === 'string' ? session.subscription : session.subscription?.id;
    if (session.status === 'complete' && subscriptionId) {
      const customer = await this.customers.ensure(em, {
        accountId: owner,
        email: session.customer_details?.email ?? null,
      });
      subscription = await this.subscriptions.refresh(em, customer, subscriptionId);
      await this.events.accountUpdated(owner, 'checkout.completed');
    }
    return { id: session.id, url: session.url, status: session.status ?? 'open', subscription };
  }
}

/** Stripe fills `{CHECKOUT_SESSION_ID}` in on redirect; the success page needs it to call checkoutSession(id). */
function withSessionId(url: string): string {
  if (url.includes('{CHECKOUT_SESSION_ID}')) return url;
  return `${url}${url.includes('?') ? '&' : '?'}session_id={CHECKOUT_SESSION_ID}`;
}
