import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { type Subscription, UsageCounter } from '../../entities';
import { BadUserInputError, BillingError, ConflictError, ErrorCode } from '../../errors';
import type { AccountEvents } from '../accounts/account-events';
import { withAccountLock } from '../accounts/account-lock';
import type { SeatPricing } from '../plans/plan.types';
import type { Clock } from '../time/clock';
import type { TaxPolicy } from '../tax/tax-policy';
import { usagePeriodAt } from '../usage/usage-period';
import { addonEndingsOf, hasEndings } from './addon-endings';
import type { ChargedUpdates } from './charged-updates';
import type { PlanChanges } from './plan-changes';
import { type PlanRules, versionOf } from './plan-rules';
import { seatsItemOf } from './subscription-items';
import type { SubscriptionStore } from './subscription-store';

/**
 * The seats of a per-seat plan (ADR 0024, docs/billing-rules.md rows 45–48): `quantity` is the total wanted,
 * the plan's included seats counted; the extra-seats item carries what is beyond them. Adding seats charges the
 * prorated difference now (`always_invoice`, as an upgrade); removing them takes effect at the period end (a
 * schedule phase, as a downgrade): what was paid for is kept until then and nothing is refunded.
 */
export class SeatChanges {
  constructor(
    private readonly store: SubscriptionStore,
    private readonly rules: PlanRules,
    private readonly events: AccountEvents,
    private readonly charged: ChargedUpdates,
    private readonly clock: Clock,
    private readonly tax: TaxPolicy,
    private readonly changes: PlanChanges,
  ) {}

  async setSeats(
    em: EntityManager,
    accountId: string,
    quantity: number,
    { asAdmin = false } = {},
  ): Promise<Subscription> {
    // The input's checks first: they need no lock (which needs the customer an account without a subscription may
    // not have) and write nothing. They are made again under the lock, on the state the change starts from.
    this.refuseOutOfRange(await this.store.requireLive(em, accountId), quantity);
    const updated = await withAccountLock(em, accountId, async () => {
      const current = await this.store.requireLive(em, accountId);
      this.rules.refuseSalesLed(current, asAdmin);
      const seats = this.refuseOutOfRange(current, quantity);
      refuseWhileChanging(current, this.clock.now());
      const taken = await this.seatsTaken(em, current);
      if (quantity < taken) {
        throw new BillingError(
          ErrorCode.SEATS_IN_USE,
          `${taken} seats are taken: free ${taken - quantity} of them before going down to ${quantity}`,
          { taken, requested: quantity },
        );
      }
      const extra = Math.max(0, quantity - seats.included);
      // Before any write, as a plan change: with Stripe Tax on, the seats' invoices need the customer's location.
      this.tax.requireLocation((await this.store.customerOf(em, current)).address);
      const stripeSubscription = await this.store.retrieve(current.stripeSubscriptionId);
      const paidExtra = seatsItemOf(stripeSubscription)?.quantity ?? 0;
      // Copied: storing what Stripe answers below refreshes `current`, and a released schedule clears its endings.
      const endings = addonEndingsOf(current);
      // Fewer seats, or as many as paid for while fewer were scheduled: the period end's schedule says it, with the
      // add-ons it already removes.
      if (extra <= paidExtra) return this.changes.scheduleRemovals(em, accountId, endings, extra);
      // More seats now. An update of items leaves a schedule in place, and its next phase (written before) would
      // undo this one: the schedule goes first and is made again after, for the add-ons it removes.
      await this.changes.releaseSchedule(stripeSubscription);
      const added = await this.addNow(em, current, stripeSubscription, extra);
      if (!hasEndings(endings)) return added;
      return this.changes.scheduleRemovals(em, accountId, endings, extra);
    });
    await this.events.accountUpdated(accountId, 'subscription.seats');
    return updated;
  }

  /** The seats taken now on the account's live subscription (0 without one). */
  async taken(em: EntityManager, accountId: string): Promise<number> {
    const current = await this.store.live(em, accountId);
    return current ? this.seatsTaken(em, current) : 0;
  }

  /** The plan's seat pricing, if it has one and `quantity` is within it; else BAD_USER_INPUT. */
  private refuseOutOfRange(current: Subscription, quantity: number): SeatPricing {
    const seats = this.rules.planOrFail(current.planKey).seats;
    if (!seats) throw new BadUserInputError(`The ${current.planKey} plan is not priced per seat`, 'quantity');
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > seats.maximum) {
      throw new BadUserInputError(
        `The ${current.planKey} plan takes from 1 to ${seats.maximum} seats (${quantity} asked)`,
        'quantity',
      );
    }
    return seats;
  }

  /** The seats gauge's level now: the seats people hold. */
  private async seatsTaken(em: EntityManager, current: Subscription): Promise<number> {
    const period = usagePeriodAt(current, this.clock.now());
    const counter = await em.findOne(
      UsageCounter,
      { accountId: current.accountId, metric: 'seats', periodStart: period.start },
      { fields: ['used'], disableIdentityMap: true },
    );
    return counter ? Number(counter.used) : 0;
  }

  /** More seats now: Stripe prorates the extra seats over the rest of the period and invoices that at once. */
  private async addNow(
    em: EntityManager,
    current: Subscription,
    stripeSubscription: Stripe.Subscription,
    extra: number,
  ): Promise<Subscription> {
    const item = seatsItemOf(stripeSubscription);
    const priceId = await this.rules.seatPriceId(this.rules.planOrFail(current.planKey), current.interval);
    if (!item && !priceId)
      throw new BadUserInputError(`The plan sells no ${current.interval}ly seat`, 'quantity');
    const params: Stripe.SubscriptionUpdateParams = {
      // A subscription made before tax was turned on is taxed from this change on, as a plan change does.
      ...(stripeSubscription.automatic_tax?.enabled ? {} : this.tax.automaticTax()),
      items: [item ? { id: item.id, quantity: extra } : { price: priceId as string, quantity: extra }],
      proration_behavior: 'always_invoice',
    };
    // Versioned by the state it starts from: the same target asked again of the same state is one charge.
    const name = `subscription.seats:${current.stripeSubscriptionId}:${extra}:${versionOf(current)}`;
    return this.charged.update(em, current, params, name);
  }
}

/**
 * One change at a time: a plan change waiting for the bank's approval or scheduled for the period end decides the
 * items the subscription has next; seats are set once it is done (or cancelled by resuming the plan).
 */
function refuseWhileChanging(current: Subscription, now: Date): void {
  if (current.pendingPlanKey && current.pendingChangeExpiresAt && current.pendingChangeExpiresAt > now) {
    throw new ConflictError(
      `A change to ${current.pendingPlanKey} waits for the payment's approval until ${current.pendingChangeExpiresAt.toISOString()}: approve it (pendingAction) or let it expire first`,
    );
  }
  if (current.scheduledPlanKey) {
    throw new ConflictError(
      `A change to ${current.scheduledPlanKey} is scheduled for the period end: seats are set on the plan the subscription is on once it applies`,
    );
  }
}
