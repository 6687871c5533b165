import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { type BillingCustomer, type BillingInterval, Subscription } from '../../entities';
import { BadUserInputError, BillingError, ConflictError, ErrorCode, ForbiddenError } from '../../errors';
import type { InvoiceSync } from '../invoices/invoice-sync';
import type { AccountEvents } from '../accounts/account-events';
import { withAccountLock } from '../accounts/account-lock';
import type { AccountProfile, CustomerManager } from '../accounts/customer-manager';
import type { CustomerCurrency } from '../accounts/customer-currency';
import type { Plan } from '../plans/plan.types';
import type { StripeClient } from '../stripe/stripe-client';
import { PLAN_KEY_METADATA } from './subscription-sync';
import type { Clock } from '../time/clock';
import type { PlanRules } from './plan-rules';
import { newSubscriptionItems } from './subscription-items';
import type { SubscriptionStore } from './subscription-store';
import { fingerprintOf, type TrialPolicy } from './trial-policy';
import type { TaxPolicy } from '../tax/tax-policy';
import { subscriptionsInStripe } from './subscriptions-in-stripe';

/**
 * Expires a customer's open Checkout Sessions (`checkout/open-checkouts.ts`): an account that subscribes directly
 * leaves no other way to subscribe open. A function given by the composition root, since checkout builds on
 * subscriptions and not the other way round.
 */
export type ExpireOpenCheckouts = (stripeCustomerId: string) => Promise<unknown>;

export interface CreateSubscriptionRequest {
  planKey: string;
  interval: BillingInterval;
  paymentMethodId?: string | null;
  withTrial?: boolean | null;
  /** Admin only: a custom price (sales-led plans such as enterprise). */
  customPriceId?: string | null;
  /** The currency to pay in (`usd`, `eur`): only before the account has one; else its billing country's. */
  currency?: string | null;
}

/** What a new subscription is made of, once the request has passed the rules. */
interface NewSubscription {
  plan: Plan;
  priceId: string;
  meteredPriceIds: string[];
  customer: BillingCustomer;
  stripeCustomerId: string;
  /** Null for an admin's custom price: its own currency is charged (a contract's price is in one currency). */
  currency: string | null;
}

/**
 * Subscribes an account directly (with a card, or a trial). One live subscription per account, one trial per
 * account and per card; a sales-led plan only through an admin, with a custom price.
 */
export class SubscriptionCreation {
  constructor(
    private readonly stripe: StripeClient,
    private readonly customers: CustomerManager,
    private readonly store: SubscriptionStore,
    private readonly rules: PlanRules,
    private readonly events: AccountEvents,
    private readonly clock: Clock,
    private readonly trials: TrialPolicy,
    private readonly expireOpenCheckouts: ExpireOpenCheckouts,
    private readonly invoices: InvoiceSync,
    private readonly tax: TaxPolicy,
    private readonly currencies: CustomerCurrency,
  ) {}

  async create(
    em: EntityManager,
    profile: AccountProfile,
    request: CreateSubscriptionRequest,
    { asAdmin = false } = {},
  ): Promise<Subscription> {
    const plan = this.rules.planOrFail(request.planKey);
    const priceId = await this.priceForNewSubscription(plan, request, asAdmin);
    const meteredPriceIds = await this.rules.meteredPriceIds(plan, request.interval);
    const customer = await this.customers.ensure(em, profile);
    // Before the lock and any write: Stripe Tax must be able to place the customer (TAX_LOCATION_REQUIRED).
    this.tax.requireLocation(customer.address);
    const stripeCustomerId = customer.stripeCustomerId as string;
    const currency = request.customPriceId ? null : this.currencies.choose(customer, request.currency);
    const wanted = { plan, priceId, meteredPriceIds, customer, stripeCustomerId, currency };
    const created = await withAccountLock(em, profile.accountId, () =>
      this.createLocked(em, profile, request, wanted),
    );
    await this.events.accountUpdated(profile.accountId, 'subscription.created');
    return created;
  }

  private async createLocked(
    em: EntityManager,
    profile: AccountProfile,
    request: CreateSubscriptionRequest,
    { plan, priceId, meteredPriceIds, customer, stripeCustomerId, currency }: NewSubscription,
  ): Promise<Subscription> {
    // Stamped before anything is read from Stripe (ADR 0005): a newer write that lands meanwhile wins.
    const observedAt = this.clock.now();
    const inStripe = await this.refuseSecondSubscription(em, customer, observedAt);
    if (currency) await this.currencies.keep(em, customer, currency);
    await this.expireOpenCheckouts(stripeCustomerId);
    // The account's previous subscription (if any) is part of the key: subscribing again after a cancellation
    // is a new intent, while a retry of this one replays Stripe's first answer.
    const previous = await em.findOne(
      Subscription,
      { accountId: profile.accountId },
      { orderBy: { createdAt: 'desc' } },
    );
    const card = request.paymentMethodId
      ? await this.makeDefaultPaymentMethod(stripeCustomerId, request.paymentMethodId)
      : null;
    const trialDays = request.withTrial ? plan.trialDays : 0;
    const defaultCard = card?.id ?? (await this.defaultPaymentMethodOf(stripeCustomerId));
    // The card a trial ends on is the one it is checked by: without paymentMethodId that is the customer's default
    // (Stripe charges it at the trial's end), which a refused attempt with a used card has just made it (row 114).
    const trialCard = trialDays > 0 && !card && defaultCard ? await this.paymentMethodOf(defaultCard) : card;
    if (trialDays > 0)
      await this.trials.requireAvailable(em, profile.accountId, inStripe, fingerprintOf(trialCard));
    if (!defaultCard && trialDays === 0) {
      throw new BadUserInputError(
        'A paid subscription without a trial needs a payment method: pass paymentMethodId or use createCheckoutSession',
        'paymentMethodId',
      );
    }
    const params: Stripe.SubscriptionCreateParams = {
      customer: stripeCustomerId,
      // Each price's `currency_options` entry of this currency is charged
      // (https://docs.stripe.com/api/subscriptions/create#create_subscription-currency).
      ...(currency ? { currency } : {}),
      items: newSubscriptionItems(priceId, meteredPriceIds),
      // A declined card fails the call and creates nothing, rather than leaving an incomplete subscription.
      payment_behavior: 'error_if_incomplete',
      metadata: { account_id: profile.accountId, [PLAN_KEY_METADATA]: plan.key },
      ...this.tax.automaticTax(),
      ...(trialDays > 0
        ? {
            trial_period_days: trialDays,
            trial_settings: { end_behavior: { missing_payment_method: plan.trialEndWithoutPaymentMethod } },
          }
        : {}),
    };
    const unclaim =
      trialDays > 0 ? await this.trials.claim(em, profile.accountId, fingerprintOf(trialCard)) : null;
    const { subscription, waiting } = await this.createInStripe(
      params,
      // The card is part of the intent: after a decline, the same call with another card is a new attempt,
      // not a replay of the first one's 402.
      `subscription.create:${profile.accountId}:${previous?.stripeSubscriptionId ?? 'none'}:${defaultCard ?? 'no-card'}`,
    ).catch(async (error: unknown) => {
      // No trial was made: the card is free for one.
      await unclaim?.();
      throw error;
    });
    const stored = await this.store.storeWritten(em, customer, subscription);
    if (waiting) {
      // The invoice the customer approves is the subscription's `pendingAction`, from this answer on.
      const now = this.clock.now();
      await this.invoices.apply(em, customer, waiting, now);
      await this.invoices.markActionRequired(em, waiting.id as string, now);
    }
    return stored;
  }

  /**
   * Creates the subscription, charged at once (`error_if_incomplete`: a declined card creates nothing). When the
   * card's bank asks the customer to approve the payment (3-D Secure), Stripe answers 402
   * `invoice_payment_intent_requires_action` and creates nothing; the subscription is then created
   * `allow_incomplete`: Stripe keeps it `incomplete`, its first invoice open and waiting for the customer, for
   * 23 hours (https://docs.stripe.com/billing/subscriptions/overview#payment-window). Nothing is provisioned
   * until the invoice is paid (`FeatureProvisioner`: an incomplete subscription gives the free plan).
   */
  private async createInStripe(
    params: Stripe.SubscriptionCreateParams,
    name: string,
  ): Promise<{ subscription: Stripe.Subscription; waiting: Stripe.Invoice | null }> {
    try {
      const subscription = await this.stripe.call(
        'subscriptions.create',
        (sdk, options) => sdk.subscriptions.create(params, options),
        { name, params },
      );
      return { subscription, waiting: null };
    } catch (error) {
      if (!(error instanceof BillingError) || error.extensions.code !== ErrorCode.AUTHENTICATION_REQUIRED)
        throw error;
    }
    const incomplete: Stripe.SubscriptionCreateParams = {
      ...params,
      payment_behavior: 'allow_incomplete',
      expand: ['latest_invoice'],
    };
    const subscription = await this.stripe.call(
      'subscriptions.create',
      (sdk, options) => sdk.subscriptions.create(incomplete, options),
      { name: `${name}:incomplete`, params: incomplete },
    );
    const invoice = subscription.latest_invoice;
    return { subscription, waiting: invoice && typeof invoice !== 'string' ? invoice : null };
  }

  private async priceForNewSubscription(
    plan: Plan,
    request: CreateSubscriptionRequest,
    asAdmin: boolean,
  ): Promise<string> {
    if (request.customPriceId) {
      if (!asAdmin) throw new ForbiddenError('Only an admin may subscribe an account with a custom price');
      return request.customPriceId;
    }
    if (plan.salesLed) {
      throw new BadUserInputError(
        `Plan ${plan.key} is sales-led: an admin subscribes it with a custom price`,
        'planKey',
      );
    }
    const price = plan.prices.find((candidate) => candidate.interval === request.interval);
    if (!price) throw new BadUserInputError(`Plan ${plan.key} has no ${request.interval}ly price`, 'planKey');
    return this.rules.priceId(price.lookupKey);
  }

  /**
   * Refuses a second live subscription (ours, or one Stripe has that we have not heard of yet: a checkout whose
   * webhook is still on its way). Returns every subscription Stripe has for the customer, canceled ones too.
   */
  private async refuseSecondSubscription(
    em: EntityManager,
    customer: BillingCustomer,
    observedAt: Date,
  ): Promise<Stripe.Subscription[]> {
    if (await this.store.live(em, customer.accountId)) {
      throw new ConflictError('The account already has a subscription: change it with changeSubscription');
    }
    const { all, live } = await subscriptionsInStripe(this.stripe, customer.stripeCustomerId as string);
    if (live) {
      await this.store.store(em, customer, live, observedAt);
      throw new ConflictError('The account already has a subscription: change it with changeSubscription');
    }
    return all;
  }

  /** Attaches the card and makes it the customer's default; returns it (with its fingerprint). */
  private async makeDefaultPaymentMethod(
    customerId: string,
    paymentMethodId: string,
  ): Promise<Stripe.PaymentMethod> {
    const attached = await this.stripe.call(
      'paymentMethods.attach',
      (sdk, options) => sdk.paymentMethods.attach(paymentMethodId, { customer: customerId }, options),
      { name: `payment-method.attach:${customerId}:${paymentMethodId}` },
    );
    await this.stripe.call(
      'customers.update',
      (sdk, options) =>
        sdk.customers.update(
          customerId,
          { invoice_settings: { default_payment_method: attached.id } },
          options,
        ),
      // Versioned by when it is asked: making A, then B, then A the default again are three intents (a replay of
      // the first would leave B the default).
      { name: `customer.default-payment-method:${customerId}:${attached.id}:${this.clock.now().getTime()}` },
    );
    return attached;
  }

  /** A payment method as Stripe has it (with its card's fingerprint). */
  private paymentMethodOf(paymentMethodId: string): Promise<Stripe.PaymentMethod> {
    return this.stripe.call('paymentMethods.retrieve', (sdk) => sdk.paymentMethods.retrieve(paymentMethodId));
  }

  /** The customer's default card, or null. */
  private async defaultPaymentMethodOf(customerId: string): Promise<string | null> {
    const customer = await this.stripe.call('customers.retrieve', (sdk) =>
      sdk.customers.retrieve(customerId),
    );
    if (customer.deleted) return null;
    const card = customer.invoice_settings?.default_payment_method;
    return (typeof card === 'string' ? card : card?.id) ?? null;
  }
}
