import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { type BillingCustomer, type BillingInterval, type Subscription } from '../../entities';
import { BadUserInputError, ConflictError, ForbiddenError, NotFoundError } from '../../errors';
import type { AccountEvents } from '../accounts/account-events';
import { withAccountLock } from '../accounts/account-lock';
import type { CheckoutRecords } from './checkout-records';
import type { AccountProfile, CustomerManager } from '../accounts/customer-manager';
import type { CustomerCurrency } from '../accounts/customer-currency';
import { expireOpenCheckouts } from './open-checkouts';
import { createOpenSession } from './open-session';
import type { TrialPolicy } from '../subscriptions/trial-policy';
import type { PlanCatalog } from '../plans/plan-catalog';
import { amountIn, type Plan, type PlanPrice } from '../plans/plan.types';
import type { PromotionCodeCheck } from '../promotions/promotion-code-check';
import type { PriceDirectory } from '../stripe/price-directory';
import type { RedirectAllowList } from './redirect-allow-list';
import type { StripeClient } from '../stripe/stripe-client';
import type { SubscriptionStore } from '../subscriptions/subscription-store';
import { newSubscriptionItems, type SeatsTarget } from '../subscriptions/subscription-items';
import { PLAN_KEY_METADATA } from '../subscriptions/subscription-sync';
import { subscriptionsInStripe } from '../subscriptions/subscriptions-in-stripe';
import type { TaxPolicy } from '../tax/tax-policy';

export interface CheckoutRequest {
  planKey: string;
  interval: BillingInterval;
  successUrl: string;
  cancelUrl: string;
  withTrial?: boolean | null;
  /** A promotion code typed on our page, checked before the session is made; none lets the customer type one on Stripe's. */
  promotionCode?: string | null;
  /** Seats wanted in all, included ones counted (a plan priced per seat); none: the plan's included seats. */
  seats?: number | null;
  /** The currency to pay in (`usd`, `eur`): only before the account has one; else its billing country's. */
  currency?: string | null;
}

export interface CheckoutSessionView {
  id: string;
  url: string | null;
  status: Stripe.Checkout.Session.Status;
  subscription: Subscription | null;
}

/**
 * Stripe Checkout for an account: one paid subscription per account (checked in our table and in Stripe, under
 * the account lock), sessions recorded so that only ours are ever linked to an account, redirect URLs on the
 * allow-list, and a read-back that syncs the new subscription at once, so the success page never shows the old
 * plan while the webhook is still on its way.
 */
export class CheckoutSessions {
  constructor(
    private readonly stripe: StripeClient,
    private readonly customers: CustomerManager,
    private readonly subscriptions: SubscriptionStore,
    private readonly catalog: PlanCatalog,
    private readonly prices: PriceDirectory,
    private readonly redirects: RedirectAllowList,
    private readonly events: AccountEvents,
    private readonly records: CheckoutRecords,
    private readonly trials: TrialPolicy,
    private readonly promotionCodes: PromotionCodeCheck,
    private readonly tax: TaxPolicy,
    private readonly currencies: CustomerCurrency,
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
    if (await this.subscriptions.live(em, profile.accountId)) throw alreadySubscribed();

    const customer = await this.customers.ensure(em, profile);
    const stripeCustomerId = customer.stripeCustomerId as string;
    const currency = this.currencies.choose(customer, request.currency);
    const metadata = { account_id: profile.accountId, [PLAN_KEY_METADATA]: plan.key };
    const withTrial = Boolean(request.withTrial) && plan.trialDays > 0;
    const meteredPriceIds = await Promise.all(
      this.catalog
        .overageLookupKeys(plan.key, request.interval)
        .map((lookupKey) => this.prices.priceId(lookupKey)),
    );
    const seats = await this.seatsOf(plan, request, currency);
    const params: Stripe.Checkout.SessionCreateParams = {
      mode: 'subscription',
      customer: stripeCustomerId,
      client_reference_id: profile.accountId,
      // The prices' `currency_options` entry of this currency is charged, and the page shows it
      // (https://docs.stripe.com/payments/checkout/present-local-currencies#manual-currency-prices).
      currency,
      // The plan, its extra seats, and the metered overage prices (no quantity: Stripe bills them from the meter,
      // after the period).
      line_items: newSubscriptionItems(
        await this.prices.priceId(price.lookupKey),
        meteredPriceIds,
        seats.target,
      ),
      success_url: successUrl,
      cancel_url: cancelUrl,
      metadata,
      subscription_data: { metadata, ...(withTrial ? { trial_period_days: plan.trialDays } : {}) },
      // With Stripe Tax on, the page collects the billing address and a VAT ID and saves them on the customer.
      ...this.tax.checkout(),
      ...(await this.discountOf(
        request.promotionCode,
        { plan, price, currency, seatsAmount: seats.amount },
        stripeCustomerId,
        withTrial,
      )),
    };
    // Under the account lock: a createSubscription or a second checkout of the same account waits its turn
    // (CONFLICT), so the checks below and the session they allow are one step.
    const session = await withAccountLock(em, profile.accountId, async () => {
      const inStripe = await this.refuseWhenSubscribedInStripe(em, customer);
      // Kept from the first Checkout on: the customer's prices never switch currency afterwards.
      await this.currencies.keep(em, customer, currency);
      // One trial per account (the card is known only once the customer pays: see docs/billing-rules.md).
      if (withTrial) await this.trials.requireAvailable(em, profile.accountId, inStripe, null);
      const created = await createOpenSession(this.stripe, `checkout.create:${profile.accountId}`, params);
      await this.records.record(em, {
        stripeSessionId: created.id,
        accountId: profile.accountId,
        planKey: plan.key,
        interval: request.interval,
        withTrial,
      });
      // Only the newest way to subscribe stays open: two open sessions could both be paid.
      await expireOpenCheckouts(this.stripe, stripeCustomerId, created.id);
      return created;
    });
    return { id: session.id, url: session.url, status: session.status ?? 'open', subscription: null };
  }

  /**
   * The extra seats a session sells (a team buying 5 seats at once), and what they add to the first invoice.
   * Checked like `setSeats`: at most the plan's maximum; only a plan priced per seat takes them.
   */
  private async seatsOf(
    plan: Plan,
    request: CheckoutRequest,
    currency: string,
  ): Promise<{ target: SeatsTarget; amount: number }> {
    if (request.seats === null || request.seats === undefined) return { target: null, amount: 0 };
    const price = plan.seats?.prices.find((candidate) => candidate.interval === request.interval);
    if (!plan.seats || !price)
      throw new BadUserInputError(`The ${plan.key} plan is not priced per seat`, 'seats');
    if (!Number.isInteger(request.seats) || request.seats < 1 || request.seats > plan.seats.maximum) {
      throw new BadUserInputError(
        `The ${plan.key} plan takes from 1 to ${plan.seats.maximum} seats`,
        'seats',
      );
    }
    const extra = Math.max(0, request.seats - plan.seats.included);
    if (extra === 0) return { target: null, amount: 0 };
    return {
      target: { priceId: await this.prices.priceId(price.lookupKey), quantity: extra },
      amount: extra * amountIn(price.amounts, currency),
    };
  }

  /**
   * A code given with the request is checked first (a refusal names its reason before any session exists) and
   * sent as the session's one discount; without one, the customer may type a code on Stripe's page
   * (`allow_promotion_codes`: Stripe refuses both together, https://docs.stripe.com/payments/checkout/discounts).
   */
  private async discountOf(
    code: string | null | undefined,
    {
      plan,
      price,
      currency,
      seatsAmount,
    }: { plan: Plan; price: PlanPrice; currency: string; seatsAmount: number },
    stripeCustomerId: string,
    withTrial: boolean,
  ): Promise<Pick<Stripe.Checkout.SessionCreateParams, 'discounts' | 'allow_promotion_codes'>> {
    const typed = code?.trim();
    if (!typed) return { allow_promotion_codes: true };
    const { promotionCode } = await this.promotionCodes.applicable(typed, {
      plan,
      stripeCustomerId,
      // Stripe compares a minimum with the first invoice before discounts: nothing is charged during a trial.
      amountBeforeDiscount: withTrial ? 0 : amountIn(price.amounts, currency) + seatsAmount,
      currency,
    });
    return { discounts: [{ promotion_code: promotionCode.id }] };
  }

  /**
   * The session as Stripe has it now; once complete, its subscription is stored before this returns. Only a
   * session this service created can be read, by the account it was created for (or an admin).
   */
  async read(
    em: EntityManager,
    accountId: string,
    sessionId: string,
    { asAdmin = false } = {},
  ): Promise<CheckoutSessionView> {
    if (!/^cs_\w+$/.test(sessionId))
      throw new BadUserInputError('id must be a Checkout Session id (cs_…)', 'id');
    const record = await this.records.find(em, sessionId);
    if (!record) throw new NotFoundError('This Checkout Session');
    if (record.accountId !== accountId && !asAdmin) throw new ForbiddenError();
    const session = await this.stripe.call('checkout.sessions.retrieve', (sdk) =>
      sdk.checkout.sessions.retrieve(sessionId),
    );
    const owner = await this.records.ownerOf(em, session);
    if (!('accountId' in owner)) throw new NotFoundError('This Checkout Session');

    let subscription: Subscription | null = null;
    const subscriptionId =
      typeof session.subscription === 'string' ? session.subscription : session.subscription?.id;
    if (session.status === 'complete' && subscriptionId) {
      const customer = await this.customers.ensure(em, {
        accountId: owner.accountId,
        email: session.customer_details?.email ?? null,
      });
      subscription = await this.subscriptions.refresh(em, customer, subscriptionId);
      await this.events.accountUpdated(owner.accountId, 'checkout.completed');
    }
    return { id: session.id, url: session.url, status: session.status ?? 'open', subscription };
  }

  /**
   * Stripe may know a subscription we have not heard of yet: a checkout whose webhook is still on its way, or
   * one paid in another tab a moment ago. It is stored (so the account's next read shows it) and refused.
   */
  private async refuseWhenSubscribedInStripe(
    em: EntityManager,
    customer: BillingCustomer,
  ): Promise<Stripe.Subscription[]> {
    const { all, live } = await subscriptionsInStripe(this.stripe, customer.stripeCustomerId as string);
    if (!live) return all;
    await this.subscriptions.refresh(em, customer, live.id);
    throw alreadySubscribed();
  }
}

function alreadySubscribed(): ConflictError {
  return new ConflictError(
    'The account already has a subscription: change it with changeSubscription or the portal',
  );
}

/** Stripe fills `{CHECKOUT_SESSION_ID}` in on redirect; the success page needs it to call checkoutSession(id). */
function withSessionId(url: string): string {
  if (url.includes('{CHECKOUT_SESSION_ID}')) return url;
  return `${url}${url.includes('?') ? '&' : '?'}session_id={CHECKOUT_SESSION_ID}`;
}
