import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { BillingInterval, Subscription } from '../../entities';
import { BadUserInputError, BillingError, ConflictError, ErrorCode, ForbiddenError } from '../../errors';
import type { InvoiceSync } from '../invoices/invoice-sync';
import type { AccountEvents } from '../accounts/account-events';
import { withAccountLock } from '../accounts/account-lock';
import type { Plan } from '../plans/plan.types';
import type { StripeClient } from '../stripe/stripe-client';
import { PLAN_KEY_METADATA } from './subscription-sync';
import type { Clock } from '../time/clock';
import { type PlanRules, versionOf } from './plan-rules';
import { currentPhaseAsIs, itemChangesFor, newSubscriptionItems, planItemOf } from './subscription-items';
import type { SubscriptionStore } from './subscription-store';
import type { InvoiceTaxes, InvoiceTaxSummary } from '../tax/invoice-taxes';
import type { TaxPolicy } from '../tax/tax-policy';

export type ProrationBehavior = 'create_prorations' | 'always_invoice' | 'none';
export type ApplyAt = 'immediately' | 'period_end';

export interface ChangeSubscriptionRequest {
  planKey: string;
  interval?: BillingInterval | null;
  prorationBehavior?: ProrationBehavior | null;
  applyAt?: ApplyAt | null;
}

export interface InvoicePreviewResult extends InvoiceTaxSummary {
  /** What the previewed invoice will charge, in cents. */
  amountDue: number;
  currency: string;
  /** Σ of the lines, before discounts and tax. */
  subtotal: number;
  /** Σ of the taxes (Stripe Tax, `STRIPE_TAX=on`; 0 when off). */
  tax: number;
  /** subtotal − discount + exclusive tax. */
  total: number;
  /** What discounts take off the previewed invoice, in cents (Σ `total_discount_amounts`). */
  discount: number;
  lines: Array<{ description: string; amount: number }>;
  /** When that invoice is charged: now for an immediate change billed at once, else the next renewal. */
  nextPaymentAt: Date | null;
  /** Whether it is charged at once (an immediate change billed now) rather than at the next renewal. */
  chargedNow: boolean;
}

/** A change request checked against the rules, with everything Stripe needs to make it. */
export interface ResolvedChange {
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
 * Changes of plan or interval, and their previews: upgrades now with a prorated charge; downgrades and interval
 * switches at the period end through a subscription schedule. Customers downgrade and switch interval at the
 * period end (an admin may force a downgrade now); only an admin may change without charging the difference.
 */
export class PlanChanges {
  constructor(
    private readonly stripe: StripeClient,
    private readonly store: SubscriptionStore,
    private readonly rules: PlanRules,
    private readonly events: AccountEvents,
    private readonly clock: Clock,
    private readonly invoices: InvoiceSync,
    private readonly tax: TaxPolicy,
    private readonly taxes: InvoiceTaxes,
  ) {}

  /** Shows what a change would cost, tax included when Stripe Tax is on, without making it. */
  async preview(
    em: EntityManager,
    accountId: string,
    request: ChangeSubscriptionRequest,
  ): Promise<InvoicePreviewResult> {
    const change = await this.resolve(em, accountId, request);
    this.tax.requireLocation((await this.store.customerOf(em, change.current)).address);
    const immediate = change.applyAt === 'immediately';
    const preview = await this.stripe.call('invoices.createPreview', (sdk) =>
      sdk.invoices.createPreview({
        customer: change.stripeSubscription.customer as string,
        subscription: change.stripeSubscription.id,
        ...this.tax.automaticTax(),
        subscription_details: {
          items: itemChangesFor(change.stripeSubscription, change.priceId, change.meteredPriceIds),
          // No proration_date: Stripe prorates to its own now, which is also when the change would be made.
          proration_behavior: immediate ? change.prorationBehavior : 'none',
        },
      }),
    );
    const billedNow = immediate && change.prorationBehavior === 'always_invoice';
    return {
      ...(await this.taxes.summaryOf(preview)),
      amountDue: preview.amount_due,
      currency: preview.currency,
      subtotal: preview.subtotal,
      tax: (preview.total_taxes ?? []).reduce((total, entry) => total + entry.amount, 0),
      total: preview.total,
      discount: (preview.total_discount_amounts ?? []).reduce((total, entry) => total + entry.amount, 0),
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
      const change = await this.resolve(em, accountId, request, asAdmin);
      // Before any write: with Stripe Tax on, the new plan's invoices need the customer's location.
      this.tax.requireLocation((await this.store.customerOf(em, change.current)).address);
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

  /** Schedules a change of the account's live subscription for its period end again (after a resume). */
  async scheduleAgain(
    em: EntityManager,
    accountId: string,
    scheduled: { planKey: string; interval: BillingInterval | null },
  ): Promise<Subscription> {
    const restore = await this.resolve(em, accountId, { ...scheduled, applyAt: 'period_end' }, true);
    return this.changeAtPeriodEnd(em, restore);
  }

  /** Releases the subscription's schedule, if it has one; true when it did. */
  async releaseSchedule(subscription: Stripe.Subscription): Promise<boolean> {
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

  private async changeNow(em: EntityManager, change: ResolvedChange): Promise<Subscription> {
    const params: Stripe.SubscriptionUpdateParams = {
      // A subscription made before tax was turned on is taxed from this change on.
      ...(change.stripeSubscription.automatic_tax?.enabled ? {} : this.tax.automaticTax()),
      // Metered items are not prorated (Stripe bills their usage from the meter), only swapped when the
      // interval changes or the new plan bills other metrics (or none) as overage.
      items: itemChangesFor(change.stripeSubscription, change.priceId, change.meteredPriceIds),
      proration_behavior: change.prorationBehavior,
      // A declined prorated charge fails the change instead of leaving the account half-upgraded.
      payment_behavior:
        change.prorationBehavior === 'always_invoice' ? 'error_if_incomplete' : 'allow_incomplete',
      metadata: { [PLAN_KEY_METADATA]: change.target.key },
    };
    const name = `subscription.change:${change.stripeSubscription.id}:${versionOf(change.current)}`;
    try {
      const subscription = await this.stripe.call(
        'subscriptions.update',
        (sdk, options) => sdk.subscriptions.update(change.stripeSubscription.id, params, options),
        { name, params },
      );
      return await this.store.storeWrittenFor(em, change.current, subscription);
    } catch (error) {
      if (!(error instanceof BillingError) || error.extensions.code !== ErrorCode.AUTHENTICATION_REQUIRED)
        throw error;
    }
    return this.changeWhenApproved(em, change, params, name);
  }

  /**
   * The bank asks the customer to approve the prorated charge (3-D Secure; Stripe answered the change above with
   * 402 and changed nothing): the change is made again as a Stripe pending update (`pending_if_incomplete`,
   * https://docs.stripe.com/billing/subscriptions/pending-updates). Stripe charges its invoice and, since the bank
   * asks, keeps the subscription on its plan with the change in `pending_update` until the invoice is paid (then
   * applies it: `customer.subscription.updated`) or for 23 hours at most (then voids the invoice and drops it). The
   * open invoice is the subscription's `pendingAction` from this answer on; nothing is provisioned before.
   */
  private async changeWhenApproved(
    em: EntityManager,
    change: ResolvedChange,
    params: Stripe.SubscriptionUpdateParams,
    name: string,
  ): Promise<Subscription> {
    // Only the parameters a pending update takes (the metadata too, since 2026-05-27.dahlia: it is merged into
    // the subscription's when the change applies; until then the plan is read from the price, `planKeyOf`).
    // Nor automatic_tax (https://docs.stripe.com/billing/subscriptions/pending-updates-reference): a subscription
    // made before tax was on stays untaxed until a change that is not held.
    const { automatic_tax: _notHeld, ...held } = params;
    const pending: Stripe.SubscriptionUpdateParams = {
      ...held,
      payment_behavior: 'pending_if_incomplete',
      expand: ['latest_invoice'],
    };
    const subscription = await this.stripe.call(
      'subscriptions.update',
      (sdk, options) => sdk.subscriptions.update(change.stripeSubscription.id, pending, options),
      { name: `${name}:pending`, params: pending },
    );
    const stored = await this.store.storeWrittenFor(em, change.current, subscription);
    const invoice = subscription.latest_invoice;
    if (subscription.pending_update && invoice && typeof invoice !== 'string') {
      const customer = await this.store.customerOf(em, change.current);
      const now = this.clock.now();
      await this.invoices.apply(em, customer, invoice, now);
      await this.invoices.markActionRequired(em, invoice.id as string, now);
    }
    return stored;
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
        // The new plan's invoices are taxed (a subscription made before tax was on too).
        ...this.tax.automaticTax(),
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
    const subscription = await this.store.retrieve(subscriptionId);
    const customer = await this.store.customerOf(em, change.current);
    const stored = await this.store.store(em, customer, subscription, observedAt);
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
    const restore = await this.resolve(em, previous.accountId, {
      planKey: previous.scheduledPlanKey,
      interval: previous.scheduledInterval,
      applyAt: 'period_end',
    });
    await this.changeAtPeriodEnd(em, restore);
  }

  /**
   * One change at a time: while a change waits for the bank's approval, Stripe would apply its items over any
   * change made meanwhile once the invoice is paid. The customer approves it (or lets it expire) first.
   */
  private refuseWhilePending(current: Subscription): void {
    const expiresAt = current.pendingChangeExpiresAt;
    if (!current.pendingPlanKey || !expiresAt || expiresAt <= this.clock.now()) return;
    throw new ConflictError(
      `A change to ${current.pendingPlanKey} waits for the payment's approval until ${expiresAt.toISOString()}: approve it (pendingAction) or let it expire first`,
    );
  }

  private async resolve(
    em: EntityManager,
    accountId: string,
    request: ChangeSubscriptionRequest,
    asAdmin = false,
  ): Promise<ResolvedChange> {
    const current = await this.store.requireLive(em, accountId);
    this.rules.refuseSalesLed(current, asAdmin);
    this.refuseWhilePending(current);
    const target = this.rules.planOrFail(request.planKey);
    const interval = request.interval ?? current.interval;
    const price = target.prices.find((candidate) => candidate.interval === interval);
    if (!price || target.salesLed) {
      throw new BadUserInputError(`Plan ${target.key} has no self-serve ${interval}ly price`, 'planKey');
    }
    const priceId = await this.rules.priceId(price.lookupKey);
    const meteredPriceIds = await this.rules.meteredPriceIds(target, interval);
    const stripeSubscription = await this.store.retrieve(current.stripeSubscriptionId);
    if (planItemOf(stripeSubscription)?.price.id === priceId) {
      throw new BadUserInputError(`The subscription is already on ${target.key} (${interval}ly)`, 'planKey');
    }
    const upgrade = this.rules.rankOf(target.key) > this.rules.rankOf(current.planKey);
    const { applyAt, prorationBehavior } = whenAndHow(
      request,
      upgrade,
      interval !== current.interval,
      asAdmin,
    );
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
}

/** When a change applies and how it is prorated: the request's choice, else the default, within the rules. */
function whenAndHow(
  request: ChangeSubscriptionRequest,
  upgrade: boolean,
  intervalSwitch: boolean,
  asAdmin: boolean,
): { applyAt: ApplyAt; prorationBehavior: ProrationBehavior } {
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
  return { applyAt, prorationBehavior };
}
