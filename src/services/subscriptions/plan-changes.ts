import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { BillingInterval, Subscription } from '../../entities';
import { BadUserInputError, ConflictError, ForbiddenError } from '../../errors';
import type { ChargedUpdates } from './charged-updates';
import type { AccountEvents } from '../accounts/account-events';
import { withAccountLock } from '../accounts/account-lock';
import type { Plan } from '../plans/plan.types';
import type { StripeClient } from '../stripe/stripe-client';
import { PLAN_KEY_METADATA } from './subscription-sync';
import type { Clock } from '../time/clock';
import { type PlanRules, versionOf } from './plan-rules';
import {
  type AddonMove,
  isMeteredItem,
  itemChangesFor,
  planItemOf,
  type SeatsTarget,
  seatsItemOf,
} from './subscription-items';
import type { SubscriptionStore } from './subscription-store';
import { type AddonEndings, addonEndingsOf, hasEndings, NO_ENDINGS } from './addon-endings';
import { schedulePeriodEnd } from './period-end-schedule';
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
  /** The extra-seats item on the target plan: the seats paid for now, kept, on its seat price (ADR 0024). */
  seats: SeatsTarget;
  applyAt: ApplyAt;
  prorationBehavior: ProrationBehavior;
  /** Where each add-on item goes (ADR 0024); at the period end the removed ones go away. */
  addonMoves: AddonMove[];
  /** The add-ons removed, or with fewer units, from the period end on (`Subscription.addonRemovals`, …). */
  endings: AddonEndings;
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
    private readonly charged: ChargedUpdates,
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
          items: itemChangesFor(
            change.stripeSubscription,
            change.priceId,
            change.meteredPriceIds,
            change.addonMoves,
            change.seats,
          ),
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
        if (change.applyAt === 'period_end') return await this.changeAtPeriodEnd(em, change);
        const changed = await this.changeNow(em, change);
        // The released schedule also held the add-ons removed (or fewer units) for the period end: still so.
        return hasEndings(change.endings)
          ? await this.scheduleRemovals(em, accountId, change.endings)
          : changed;
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
    endings?: AddonEndings,
  ): Promise<Subscription> {
    const restore = await this.resolve(em, accountId, { ...scheduled, applyAt: 'period_end' }, true, endings);
    return this.changeAtPeriodEnd(em, restore);
  }

  /**
   * Schedules the period end with the add-ons' `endings` (removed, fewer units) and the extra seats at `extraSeats`
   * (ADR 0024: what was paid is kept until then), on top of the account's scheduled plan change if it has one, else on its plan and
   * prices as they are; with nothing left to remove, the subscription renews as it is (its schedule released).
   * Callers hold the account's lock.
   */
  async scheduleRemovals(
    em: EntityManager,
    accountId: string,
    endings: AddonEndings,
    /** The extra seats from the period end on, when seats are removed now (else the ones kept, `seatsKept`). */
    extraSeats?: number,
  ): Promise<Subscription> {
    const current = await this.store.requireLive(em, accountId);
    const stripeSubscription = await this.store.retrieve(current.stripeSubscriptionId);
    const seats = seatsKept(current, stripeSubscription, extraSeats);
    const seatsChange = seats !== null && seats.quantity !== (seatsItemOf(stripeSubscription)?.quantity ?? 0);
    if (!hasEndings(endings) && !seatsChange && !current.scheduledPlanKey) {
      // Nothing left to end with the period: the subscription simply renews as it is.
      await this.releaseSchedule(stripeSubscription);
      return this.store.refresh(em, await this.store.customerOf(em, current), current.stripeSubscriptionId);
    }
    if (current.scheduledPlanKey) {
      const scheduled = { planKey: current.scheduledPlanKey, interval: current.scheduledInterval };
      await this.releaseSchedule(stripeSubscription);
      return this.scheduleAgain(em, accountId, scheduled, endings);
    }
    const target = this.rules.planOrFail(current.planKey);
    const planItem = planItemOf(stripeSubscription);
    if (!planItem) throw new ConflictError('The subscription has no plan item to keep');
    await this.releaseSchedule(stripeSubscription);
    return this.changeAtPeriodEnd(em, {
      current,
      stripeSubscription,
      target,
      interval: current.interval,
      // The prices it has, not the catalog's current ones: a removal changes nothing else at the renewal.
      priceId: planItem.price.id,
      meteredPriceIds: stripeSubscription.items.data.filter(isMeteredItem).map((item) => item.price.id),
      applyAt: 'period_end',
      prorationBehavior: 'create_prorations',
      seats,
      addonMoves: await this.rules.addonMoves(stripeSubscription, target, current.interval, endings),
      endings,
    });
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
      items: itemChangesFor(
        change.stripeSubscription,
        change.priceId,
        change.meteredPriceIds,
        change.addonMoves,
        change.seats,
      ),
      proration_behavior: change.prorationBehavior,
      metadata: { [PLAN_KEY_METADATA]: change.target.key },
    };
    const name = `subscription.change:${change.stripeSubscription.id}:${versionOf(change.current)}`;
    return this.charged.update(em, change.current, params, name);
  }

  /** A downgrade at the period end (and add-on removals): see `schedulePeriodEnd`. */
  private changeAtPeriodEnd(em: EntityManager, change: ResolvedChange): Promise<Subscription> {
    const deps = { stripe: this.stripe, store: this.store, clock: this.clock };
    // The new phase's invoices are taxed (a subscription made before tax was on too).
    return schedulePeriodEnd(deps, em, change, this.tax.automaticTax());
  }

  /** Puts back a scheduled downgrade that was released for a change that then failed. */
  private async restoreScheduledChange(em: EntityManager, previous: Subscription): Promise<void> {
    const endings = addonEndingsOf(previous);
    if (!previous.scheduledPlanKey) {
      if (hasEndings(endings)) await this.scheduleRemovals(em, previous.accountId, endings);
      return;
    }
    const scheduled = { planKey: previous.scheduledPlanKey, interval: previous.scheduledInterval };
    await this.scheduleAgain(em, previous.accountId, scheduled, endings);
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
    endings?: AddonEndings,
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
    const seats = await this.seatsOnTarget(current, stripeSubscription, target, interval);
    const upgrade = this.rules.rankOf(target.key) > this.rules.rankOf(current.planKey);
    const { applyAt, prorationBehavior } = whenAndHow(
      request,
      upgrade,
      interval !== current.interval,
      asAdmin,
    );
    const kept = endings ?? addonEndingsOf(current);
    // A change now keeps what the customer removed (or fewer units) until the period end; a change then applies it.
    const addonMoves = await this.rules.addonMoves(
      stripeSubscription,
      target,
      interval,
      applyAt === 'period_end' ? kept : NO_ENDINGS,
    );
    return {
      current,
      stripeSubscription,
      target,
      interval,
      priceId,
      meteredPriceIds,
      seats,
      applyAt,
      prorationBehavior,
      addonMoves,
      endings: kept,
    };
  }

  /**
   * The seats a plan change keeps: those the customer bought. With extra seats, as many as are paid for now
   * (included and extra) on the target's seat price, the ones beyond the target's included seats being extra;
   * with only the plan's included seats, none extra (nothing is sold that was not asked for). A target not priced
   * per seat has none.
   */
  private async seatsOnTarget(
    current: Subscription,
    stripeSubscription: Stripe.Subscription,
    target: Plan,
    interval: BillingInterval,
  ): Promise<SeatsTarget> {
    const extra = seatsItemOf(stripeSubscription)?.quantity ?? 0;
    if (!target.seats || extra === 0) return null;
    const paid = (this.rules.planOrFail(current.planKey).seats?.included ?? 0) + extra;
    if (paid > target.seats.maximum) {
      throw new BadUserInputError(
        `${paid} seats are paid for and the ${target.key} plan takes at most ${target.seats.maximum}: setSeats first`,
        'planKey',
      );
    }
    const priceId = await this.rules.seatPriceId(target, interval);
    return priceId ? { priceId, quantity: Math.max(0, paid - target.seats.included) } : null;
  }
}

/**
 * The extra seats a schedule that changes no plan carries into the next period: those removed for the period end
 * (`scheduledExtraSeats`, ADR 0024) if the customer removed some, else the ones it has.
 */
function seatsKept(
  current: Subscription,
  stripeSubscription: Stripe.Subscription,
  extraSeats?: number,
): SeatsTarget {
  const item = seatsItemOf(stripeSubscription);
  if (!item) return null;
  return {
    priceId: item.price.id,
    quantity: extraSeats ?? current.scheduledExtraSeats ?? item.quantity ?? 0,
  };
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
