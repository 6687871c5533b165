import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { type BillingCustomer, type BillingInterval, Subscription } from '../entities';
import { BadUserInputError, ConflictError, ForbiddenError, NotFoundError } from '../errors';
import type { AccountEvents } from './account-events';
import type { Clock } from './clock';
import { withAccountLock } from './account-lock';
import { expireOpenCheckouts } from './open-checkouts';
import type { AccountProfile, CustomerManager } from './customer-manager';
import type { FeatureProvisioner } from './feature-provisioner';
import type { Plan } from './plans/plan.types';
import type { PlanCatalog } from './plans/plan-catalog';
import type { PriceDirectory } from './price-directory';
import type { StripeClient } from './stripe/stripe-client';
import { currentPhaseAsIs, itemChangesFor, newSubscriptionItems, planItemOf } from './subscription-items';
import { LIVE_STATUSES, PLAN_KEY_METADATA, type SubscriptionSync } from './subscriptions/subscription-sync';
import { fingerprintOf, type TrialPolicy } from './trial-policy';

export type ProrationBehavior = 'create_prorations' | 'always_invoice' | 'none';
export type ApplyAt = 'immediately' | 'period_end';

/**
 * Reports an account's overage to Stripe's meter now (the overage reporter), failing if any report could not
 * be sent: a cancellation now bills the period's usage on its final invoice only if it is there first.
 */
export interface OverageFlusher {
  flushAccount(accountId: string): Promise<unknown>;
}

export interface CreateSubscriptionRequest {
  planKey: string;
  interval: BillingInterval;
  paymentMethodId?: string | null;
  withTrial?: boolean | null;
  /** Admin only: a custom price (sales-led plans such as enterprise). */
  customPriceId?: string | null;
}

export interface ChangeSubscriptionRequest {
  planKey: string;
  interval?: BillingInterval | null;
  prorationBehavior?: ProrationBehavior | null;
  applyAt?: ApplyAt | null;
}

export interface InvoicePreviewResult {
  /** What the previewed invoice will charge, in cents. */
  amountDue: number;
  currency: string;
  lines: Array<{ description: string; amount: number }>;
  /** When that invoice is charged: now for an immediate change billed at once, else the next renewal. */
  nextPaymentAt: Date | null;
  /** Whether it is charged at once (an immediate change billed now) rather than at the next renewal. */
  chargedNow: boolean;
}

interface ResolvedChange {
  current: Subscription;
  stripeSubscription: Stripe.Subscription;
  target: Plan;
  interval: BillingInterval;
  priceId: string;
  /** The metered overage prices the target plan bills, for the target interval. */
  meteredPriceIds: string[];
  applyAt: ApplyAt;
  prorationBehavior: ProrationBehavior;
}

/**
 * The subscription lifecycle: create (with a card, or a trial), change plan or interval (upgrades now with a
 * prorated charge; downgrades and interval switches at the period end through a subscription schedule), preview
 * a change, cancel, resume, end a trial. One live subscription per account. Every change goes to Stripe first,
 * then into our table, then out to live subscribers; no database transaction is held open across a Stripe call.
 *
 * What each choice costs is `docs/billing-rules.md`; the rules that decide it are here: one trial per account and
 * per card; customers downgrade and switch interval at the period end (an admin may force a downgrade now);
 * only an admin may change without charging the difference (`none`); a sales-led subscription changes only
 * through an admin; cancelling now reports the period's overage first and bills it on the final invoice.
 */
export class SubscriptionManager {
  constructor(
    private readonly stripe: StripeClient,
    private readonly customers: CustomerManager,
    private readonly sync: SubscriptionSync,
    private readonly catalog: PlanCatalog,
    private readonly prices: PriceDirectory,
    private readonly events: AccountEvents,
    private readonly provisioner: FeatureProvisioner,
    private readonly clock: Clock,
    private readonly trials: TrialPolicy,
    private readonly overage: OverageFlusher | null = null,
  ) {}

  /**
   * Stores Stripe's answer and re-provisions the account's entitlements at once, so the caller's next read
   * shows the new plan without waiting for the webhook (which will find nothing left to change).
   */
  private async store(
    em: EntityManager,
    customer: BillingCustomer,
    subscription: Stripe.Subscription,
    observedAt: Date,
  ): Promise<Subscription> {
    // One transaction: a row stored without its entitlements would stay so, since the webhook that follows
    // finds the row unchanged and provisions only what changed.
    return em.transactional(async (tx) => {
      const stored = await this.sync.apply(tx, customer, subscription, observedAt);
      // Provisioned for now, not for the read stamp: the stamp may be from before Stripe started the period.
      await this.provisioner.provision(tx, customer.accountId, this.clock.now());
      return stored;
    });
  }

  /**
   * Stores what Stripe answered to a change we made, stamped when the answer came back (ADR 0005 stamps a
   * *read* before it starts). A write's answer holds the change itself: a webhook handler that read Stripe while
   * the change was in flight, and so read the state before it, must lose to it, and stamped at the start of the
   * call the change would lose to such a read.
   */
  private storeWritten(
    em: EntityManager,
    customer: BillingCustomer,
    subscription: Stripe.Subscription,
  ): Promise<Subscription> {
    return this.store(em, customer, subscription, this.clock.now());
  }

  /** The account's live subscription (trialing, active, past due, …), or null. */
  live(em: EntityManager, accountId: string): Promise<Subscription | null> {
    return em.findOne(
      Subscription,
      { accountId, status: { $in: [...LIVE_STATUSES] } },
      { orderBy: { createdAt: 'desc' } },
    );
  }

  async create(
    em: EntityManager,
    profile: AccountProfile,
    request: CreateSubscriptionRequest,
    { asAdmin = false } = {},
  ): Promise<Subscription> {
    const plan = this.planOrFail(request.planKey);
    const priceId = await this.priceForNewSubscription(plan, request, asAdmin);
    const meteredPriceIds = await this.meteredPriceIds(plan, request.interval);
    const customer = await this.customers.ensure(em, profile);
    const stripeCustomerId = customer.stripeCustomerId as string;

    const created = await withAccountLock(em, profile.accountId, async () => {
      // Stamped before anything is read from Stripe (ADR 0005): a newer write that lands meanwhile wins.
      const observedAt = this.clock.now();
      const inStripe = await this.refuseSecondSubscription(em, customer, observedAt);
      await expireOpenCheckouts(this.stripe, stripeCustomerId);
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
      if (trialDays > 0)
        await this.trials.requireAvailable(em, profile.accountId, inStripe, fingerprintOf(card));
      const defaultCard = card?.id ?? (await this.defaultPaymentMethodOf(stripeCustomerId));
      if (!defaultCard && trialDays === 0) {
        throw new BadUserInputError(
          'A paid subscription without a trial needs a payment method: pass paymentMethodId or use createCheckoutSession',
          'paymentMethodId',
        );
      }
      const params: Stripe.SubscriptionCreateParams = {
        customer: stripeCustomerId,
        items: newSubscriptionItems(priceId, meteredPriceIds),
        // A declined card fails the call and creates nothing, rather than leaving an incomplete subscription.
        payment_behavior: 'error_if_incomplete',
        metadata: { account_id: profile.accountId, [PLAN_KEY_METADATA]: plan.key },
        ...(trialDays > 0
          ? {
              trial_period_days: trialDays,
              trial_settings: { end_behavior: { missing_payment_method: plan.trialEndWithoutPaymentMethod } },
            }
          : {}),
      };
      const subscription = await this.stripe.call(
        'subscriptions.create',
        (sdk, options) => sdk.subscriptions.create(params, options),
        {
          // The card is part of the intent: after a decline, the same call with another card is a new attempt,
          // not a replay of the first one's 402.
          name: `subscription.create:${profile.accountId}:${previous?.stripeSubscriptionId ?? 'none'}:${defaultCard ?? 'no-card'}`,
          params,
        },
      );
      const stored = await this.storeWritten(em, customer, subscription);
      if (trialDays > 0) await this.trials.remember(em, profile.accountId, fingerprintOf(card));
      return stored;
    });
    await this.events.accountUpdated(profile.accountId, 'subscription.created');
    return created;
  }

  /** Shows what a change would cost, without making it. */
  async preview(
    em: EntityManager,
    accountId: string,
    request: ChangeSubscriptionRequest,
  ): Promise<InvoicePreviewResult> {
    const change = await this.resolveChange(em, accountId, request);
    const immediate = change.applyAt === 'immediately';
    const preview = await this.stripe.call('invoices.createPreview', (sdk) =>
      sdk.invoices.createPreview({
        customer: change.stripeSubscription.customer as string,
        subscription: change.stripeSubscription.id,
        subscription_details: {
          items: itemChangesFor(change.stripeSubscription, change.priceId, change.meteredPriceIds),
          // No proration_date: Stripe prorates to its own now, which is also when the change would be made.
          proration_behavior: immediate ? change.prorationBehavior : 'none',
        },
      }),
    );
    const billedNow = immediate && change.prorationBehavior === 'always_invoice';
    return {
      amountDue: preview.amount_due,
      currency: preview.currency,
      lines: preview.lines.data.map((line) => ({ description: line.description ?? '', amount: line.amount })),
      nextPaymentAt: billedNow ? this.clock.now() : change.current.currentPeriodEnd,
      chargedNow: billedNow,
    };
  }

  async change(
    em: EntityManager,
    accountId: string,
    request: ChangeSubscriptionRequest,
    { asAdmin = false } = {},
  ): Promise<Subscription> {
    const updated = await withAccountLock(em, accountId, async () => {
      const change = await this.resolveChange(em, accountId, request, asAdmin);
      const released = await this.releaseSchedule(change.stripeSubscription);
      try {
        return change.applyAt === 'immediately'
          ? await this.changeNow(em, change)
          : await this.changeAtPeriodEnd(em, change);
      } catch (error) {
        // The pending downgrade had to go before the change; a change that failed (a declined upgrade) must
        // not take the customer's scheduled downgrade with it.
        if (released) await this.restoreScheduledChange(em, change.current);
        throw error;
      }
    });
    await this.events.accountUpdated(accountId, 'subscription.changed');
    return updated;
  }

  /**
   * Cancels at the period end (access and the plan's allowance until then; a scheduled downgrade is kept for a
   * resume), or now: then the period's overage is reported to Stripe first and the final invoice bills it
   * (`invoice_now`); the unused time is not refunded (`prorate: false`, see docs/billing-rules.md).
   */
  async cancel(
    em: EntityManager,
    accountId: string,
    { atPeriodEnd = true } = {},
    { asAdmin = false } = {},
  ): Promise<Subscription> {
    const updated = await withAccountLock(em, accountId, async () => {
      const current = await this.requireLive(em, accountId);
      this.refuseSalesLed(current, asAdmin);
      const stripeSubscription = await this.retrieve(current.stripeSubscriptionId);
      // Stripe refuses cancellation settings on a subscription a schedule manages: the schedule is released,
      // and our row keeps the scheduled downgrade so that a resume puts it back.
      await this.releaseSchedule(stripeSubscription);
      if (!atPeriodEnd) await this.overage?.flushAccount(accountId);
      const subscription = atPeriodEnd
        ? await this.stripe.call(
            'subscriptions.update',
            (sdk, options) =>
              sdk.subscriptions.update(current.stripeSubscriptionId, { cancel_at_period_end: true }, options),
            // Versioned by the state it changes: cancel, resume, cancel again are three intents, not one.
            {
              name: `subscription.cancel-at-period-end:${current.stripeSubscriptionId}:${versionOf(current)}`,
            },
          )
        : await this.stripe.call(
            'subscriptions.cancel',
            (sdk, options) =>
              sdk.subscriptions.cancel(
                current.stripeSubscriptionId,
                { invoice_now: true, prorate: false },
                options,
              ),
            { name: `subscription.cancel:${current.stripeSubscriptionId}` },
          );
      return this.storeWritten(em, await this.customerOf(em, current), subscription);
    });
    await this.events.accountUpdated(
      accountId,
      atPeriodEnd ? 'subscription.cancel_scheduled' : 'subscription.canceled',
    );
    return updated;
  }

  /**
   * Undoes a cancellation at period end, as long as the period has not ended; a downgrade that was scheduled
   * before the cancellation is scheduled again (the customer renews on the plan they had chosen, not the old one).
   */
  async resume(em: EntityManager, accountId: string, { asAdmin = false } = {}): Promise<Subscription> {
    const updated = await withAccountLock(em, accountId, async () => {
      const current = await this.requireLive(em, accountId);
      this.refuseSalesLed(current, asAdmin);
      if (!current.cancelAtPeriodEnd)
        throw new BadUserInputError('The subscription is not set to cancel: nothing to resume');
      const pendingDowngrade = current.scheduledPlanKey
        ? { planKey: current.scheduledPlanKey, interval: current.scheduledInterval }
        : null;
      const subscription = await this.stripe.call(
        'subscriptions.update',
        (sdk, options) =>
          sdk.subscriptions.update(
            current.stripeSubscriptionId,
            { cancel_at_period_end: false, cancel_at: '' },
            options,
          ),
        { name: `subscription.resume:${current.stripeSubscriptionId}:${versionOf(current)}` },
      );
      const resumed = await this.storeWritten(em, await this.customerOf(em, current), subscription);
      if (!pendingDowngrade) return resumed;
      const restore = await this.resolveChange(
        em,
        accountId,
        { ...pendingDowngrade, applyAt: 'period_end' },
        true,
      );
      return this.changeAtPeriodEnd(em, restore);
    });
    await this.events.accountUpdated(accountId, 'subscription.resumed');
    return updated;
  }

  /**
   * Ends a trial now: the customer starts paying (Stripe invoices the plan at once and starts a new period),
   * which also lifts the trial's cap on usage past the allowance.
   */
  async endTrial(em: EntityManager, accountId: string): Promise<Subscription> {
    const updated = await withAccountLock(em, accountId, async () => {
      const current = await this.requireLive(em, accountId);
      if (current.status !== 'trialing') throw new BadUserInputError('The subscription is not in a trial');
      const subscription = await this.stripe.call(
        'subscriptions.update',
        (sdk, options) =>
          sdk.subscriptions.update(
            current.stripeSubscriptionId,
            // A declined card fails the call: the trial goes on rather than ending in an unpaid subscription.
            { trial_end: 'now', payment_behavior: 'error_if_incomplete' },
            options,
          ),
        { name: `subscription.end-trial:${current.stripeSubscriptionId}` },
      );
      return this.storeWritten(em, await this.customerOf(em, current), subscription);
    });
    await this.events.accountUpdated(accountId, 'subscription.trial_ended');
    return updated;
  }

  /** Reads the account's subscription from Stripe and stores it (used after checkout and on demand). */
  async refresh(
    em: EntityManager,
    customer: BillingCustomer,
    stripeSubscriptionId: string,
  ): Promise<Subscription> {
    const observedAt = this.clock.now();
    const subscription = await this.retrieve(stripeSubscriptionId);
    return this.store(em, customer, subscription, observedAt);
  }

  private async changeNow(em: EntityManager, change: ResolvedChange): Promise<Subscription> {
    const params: Stripe.SubscriptionUpdateParams = {
      // Metered items are not prorated (Stripe bills their usage from the meter), only swapped when the
      // interval changes or the new plan bills other metrics (or none) as overage.
      items: itemChangesFor(change.stripeSubscription, change.priceId, change.meteredPriceIds),
      proration_behavior: change.prorationBehavior,
      // A declined prorated charge fails the change instead of leaving the account half-upgraded.
      payment_behavior:
        change.prorationBehavior === 'always_invoice' ? 'error_if_incomplete' : 'allow_incomplete',
      metadata: { [PLAN_KEY_METADATA]: change.target.key },
    };
    const subscription = await this.stripe.call(
      'subscriptions.update',
      (sdk, options) => sdk.subscriptions.update(change.stripeSubscription.id, params, options),
      { name: `subscription.change:${change.stripeSubscription.id}:${versionOf(change.current)}`, params },
    );
    return this.storeWritten(em, await this.customerOf(em, change.current), subscription);
  }

  /** A downgrade at the period end: a subscription schedule whose second phase holds the new price. */
  private async changeAtPeriodEnd(em: EntityManager, change: ResolvedChange): Promise<Subscription> {
    const subscriptionId = change.stripeSubscription.id;
    const schedule = await this.stripe.call(
      'subscriptionSchedules.create',
      (sdk, options) => sdk.subscriptionSchedules.create({ from_subscription: subscriptionId }, options),
      { name: `schedule.create:${subscriptionId}:${versionOf(change.current)}` },
    );
    const currentPhase = schedule.phases[0] as Stripe.SubscriptionSchedule.Phase;
    const phases: Stripe.SubscriptionScheduleUpdateParams.Phase[] = [
      currentPhaseAsIs(change.stripeSubscription, currentPhase),
      {
        items: newSubscriptionItems(change.priceId, change.meteredPriceIds),
        duration: { interval: change.interval, interval_count: 1 },
        // The phase starts exactly at the period end, so there is no licensed time left to prorate; what this
        // setting still governs is the usage of metered items the new phase drops (another interval, or a plan
        // without overage): with `none` Stripe would never bill that period's overage.
        proration_behavior: 'create_prorations',
        metadata: { [PLAN_KEY_METADATA]: change.target.key },
      },
    ];
    await this.stripe.call(
      'subscriptionSchedules.update',
      (sdk, options) =>
        sdk.subscriptionSchedules.update(schedule.id, { end_behavior: 'release', phases }, options),
      {
        name: `schedule.update:${schedule.id}`,
        params: { price: change.priceId, metered: change.meteredPriceIds },
      },
    );
    const observedAt = this.clock.now();
    const subscription = await this.retrieve(subscriptionId);
    const stored = await this.store(em, await this.customerOf(em, change.current), subscription, observedAt);
    stored.scheduleId = schedule.id;
    stored.scheduledPlanKey = change.target.key;
    stored.scheduledInterval = change.interval;
    stored.scheduledChangeAt = new Date(currentPhase.end_date * 1000);
    await em.flush();
    return stored;
  }

  /** Puts back a scheduled downgrade that was released for a change that then failed. */
  private async restoreScheduledChange(em: EntityManager, previous: Subscription): Promise<void> {
    if (!previous.scheduledPlanKey) return;
    const restore = await this.resolveChange(em, previous.accountId, {
      planKey: previous.scheduledPlanKey,
      interval: previous.scheduledInterval,
      applyAt: 'period_end',
    });
    await this.changeAtPeriodEnd(em, restore);
  }

  private async resolveChange(
    em: EntityManager,
    accountId: string,
    request: ChangeSubscriptionRequest,
    asAdmin = false,
  ): Promise<ResolvedChange> {
    const current = await this.requireLive(em, accountId);
    this.refuseSalesLed(current, asAdmin);
    const target = this.planOrFail(request.planKey);
    const interval = request.interval ?? current.interval;
    const price = target.prices.find((candidate) => candidate.interval === interval);
    if (!price || target.salesLed) {
      throw new BadUserInputError(`Plan ${target.key} has no self-serve ${interval}ly price`, 'planKey');
    }
    const priceId = await this.prices.priceId(price.lookupKey);
    const meteredPriceIds = await this.meteredPriceIds(target, interval);
    const stripeSubscription = await this.retrieve(current.stripeSubscriptionId);
    if (planItemOf(stripeSubscription)?.price.id === priceId) {
      throw new BadUserInputError(`The subscription is already on ${target.key} (${interval}ly)`, 'planKey');
    }
    const upgrade = this.rankOf(target.key) > this.rankOf(current.planKey);
    const intervalSwitch = interval !== current.interval;
    const applyAt = request.applyAt ?? (upgrade && !intervalSwitch ? 'immediately' : 'period_end');
    const prorationBehavior = request.prorationBehavior ?? (upgrade ? 'always_invoice' : 'create_prorations');
    if (prorationBehavior === 'none' && !asAdmin) {
      // Without a charge for the difference, an upgrade gives the rest of the period on the better plan free, and
      // a switch of interval drops the closing period's metered usage.
      throw new ForbiddenError(
        'Only an admin may change a subscription without prorating (prorationBehavior NONE)',
      );
    }
    if (applyAt === 'immediately' && intervalSwitch) {
      // Stripe starts a new period when the interval changes: the closing period's usage would be billed on the
      // new interval's schedule, or not at all. At the period end it is billed on the renewal, as usual.
      throw new BadUserInputError(
        'Switching between monthly and yearly takes effect at the end of the period: use applyAt PERIOD_END',
        'applyAt',
      );
    }
    if (applyAt === 'immediately' && !upgrade && !asAdmin) {
      // A downgrade now credits the unused time of the better plan: the customer would keep paying less for what
      // the period already gave. Customers downgrade at the period end; support may force it now.
      throw new ForbiddenError('A downgrade takes effect at the end of the period: use applyAt PERIOD_END');
    }
    return {
      current,
      stripeSubscription,
      target,
      interval,
      priceId,
      meteredPriceIds,
      applyAt,
      prorationBehavior,
    };
  }

  /** A plan's place in the catalog (the order customers see, cheapest first): what makes a change an upgrade. */
  private rankOf(planKey: string): number {
    return this.catalog.plans().findIndex((plan) => plan.key === planKey);
  }

  /** A sales-led subscription (a contract) is changed, cancelled or resumed by an admin, never by the customer. */
  private refuseSalesLed(current: Subscription, asAdmin: boolean): void {
    if (asAdmin || !this.catalog.find(current.planKey)?.salesLed) return;
    throw new ForbiddenError(
      `The ${current.planKey} subscription follows a contract: changes go through your account manager`,
    );
  }

  /** The metered overage prices a subscription to `plan` billed every `interval` carries (none for enterprise). */
  private meteredPriceIds(plan: Plan, interval: BillingInterval): Promise<string[]> {
    return Promise.all(
      this.catalog.overageLookupKeys(plan.key, interval).map((lookupKey) => this.prices.priceId(lookupKey)),
    );
  }

  /** Releases the subscription's schedule, if it has one; true when it did. */
  private async releaseSchedule(subscription: Stripe.Subscription): Promise<boolean> {
    const scheduleId =
      typeof subscription.schedule === 'string' ? subscription.schedule : subscription.schedule?.id;
    if (!scheduleId) return false;
    await this.stripe.call(
      'subscriptionSchedules.release',
      (sdk, options) => sdk.subscriptionSchedules.release(scheduleId, {}, options),
      { name: `schedule.release:${scheduleId}` },
    );
    return true;
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
    return this.prices.priceId(price.lookupKey);
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
    if (await this.live(em, customer.accountId)) {
      throw new ConflictError('The account already has a subscription: change it with changeSubscription');
    }
    const inStripe = await this.stripe.call('subscriptions.list', (sdk) =>
      sdk.subscriptions.list({ customer: customer.stripeCustomerId as string, status: 'all', limit: 100 }),
    );
    const live = inStripe.data.find((subscription) =>
      (LIVE_STATUSES as readonly string[]).includes(subscription.status),
    );
    if (live) {
      await this.store(em, customer, live, observedAt);
      throw new ConflictError('The account already has a subscription: change it with changeSubscription');
    }
    return inStripe.data;
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

  /** The customer's default card, or null. */
  private async defaultPaymentMethodOf(customerId: string): Promise<string | null> {
    const customer = await this.stripe.call('customers.retrieve', (sdk) =>
      sdk.customers.retrieve(customerId),
    );
    if (customer.deleted) return null;
    const card = customer.invoice_settings?.default_payment_method;
    return (typeof card === 'string' ? card : card?.id) ?? null;
  }

  private async requireLive(em: EntityManager, accountId: string): Promise<Subscription> {
    const current = await this.live(em, accountId);
    if (!current) throw new NotFoundError('A live subscription of this account');
    return current;
  }

  private retrieve(subscriptionId: string): Promise<Stripe.Subscription> {
    return this.stripe.call('subscriptions.retrieve', (sdk) => sdk.subscriptions.retrieve(subscriptionId));
  }

  private async customerOf(em: EntityManager, subscription: Subscription): Promise<BillingCustomer> {
    return this.customers.require(em, subscription.accountId);
  }

  private planOrFail(planKey: string): Plan {
    const plan = this.catalog.find(planKey);
    if (!plan) throw new BadUserInputError(`Unknown plan ${planKey}`, 'planKey');
    return plan;
  }
}

/** The version of the state a change starts from: part of its idempotency key (see `stripe-client.ts`). */
function versionOf(subscription: Subscription): string {
  return String(subscription.stripeUpdatedAt.getTime());
}
