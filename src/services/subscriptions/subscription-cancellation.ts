import type { EntityManager } from '@mikro-orm/postgresql';
import { addonEndingsOf, hasEndings } from './addon-endings';
import type { Subscription } from '../../entities';
import { BadUserInputError, BillingError, ErrorCode } from '../../errors';
import type { AccountEvents } from '../accounts/account-events';
import { withAccountLock } from '../accounts/account-lock';
import { chargedCardOf } from '../invoices/charged-card';
import { idOf } from '../stripe/expandable';
import type { StripeClient } from '../stripe/stripe-client';
import type { Clock } from '../time/clock';
import type { PlanChanges } from './plan-changes';
import { type PlanRules, versionOf } from './plan-rules';
import type { SubscriptionStore } from './subscription-store';

/**
 * Reports an account's overage to Stripe's meter now (the overage reporter), failing if any report could not
 * be sent: a cancellation now bills the period's usage on its final invoice only if it is there first.
 */
export interface OverageFlusher {
  flushAccount(accountId: string): Promise<unknown>;
}

/**
 * How a subscription ends, or does not: cancel (at the period end, or now with the period's overage billed on
 * the final invoice), resume a cancellation at the period end, end a trial now.
 */
export class SubscriptionCancellation {
  constructor(
    private readonly stripe: StripeClient,
    private readonly store: SubscriptionStore,
    private readonly changes: PlanChanges,
    private readonly rules: PlanRules,
    private readonly events: AccountEvents,
    /** Null: no overage to report before a cancel now (nothing flushed). */
    private readonly overage: OverageFlusher | null,
    /** Billing's "now" (a hold past its time no longer counts as a call in flight): the composition root's. */
    private readonly clock: Clock,
  ) {}

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
      const current = await this.store.requireLive(em, accountId);
      this.rules.refuseSalesLed(current, asAdmin);
      const stripeSubscription = await this.store.retrieve(current.stripeSubscriptionId);
      // Stripe refuses cancellation settings on a subscription a schedule manages: the schedule is released,
      // and our row keeps the scheduled downgrade so that a resume puts it back.
      if (!atPeriodEnd) await refuseWithCallsInFlight(em, accountId, this.clock.now());
      await this.changes.releaseSchedule(stripeSubscription);
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
      return this.store.storeWrittenFor(em, current, subscription);
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
      const current = await this.store.requireLive(em, accountId);
      this.rules.refuseSalesLed(current, asAdmin);
      if (!current.cancelAtPeriodEnd)
        throw new BadUserInputError('The subscription is not set to cancel: nothing to resume');
      await this.refuseWithoutCard(current);
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
      // Taken before the store: resuming leaves no schedule, which clears them from the row.
      const endings = addonEndingsOf(current);
      const resumed = await this.store.storeWrittenFor(em, current, subscription);
      if (pendingDowngrade) return this.changes.scheduleAgain(em, accountId, pendingDowngrade, endings);
      if (hasEndings(endings)) return this.changes.scheduleRemovals(em, accountId, endings);
      return resumed;
    });
    await this.events.accountUpdated(accountId, 'subscription.resumed');
    return updated;
  }

  /**
   * A resumed subscription renews, so it needs a card Stripe will charge, as `removePaymentMethod` keeps one
   * (docs/billing-rules.md row 86): otherwise cancel, remove the last card, resume would renew with nothing to
   * charge. Stripe charges the subscription's `default_payment_method`, else the customer's
   * `invoice_settings.default_payment_method` (API reference, Subscription.default_payment_method): a card saved on
   * the hosted page is not a default until `setDefaultPaymentMethod`. A trial (it may start without a card) and a
   * subscription paid by invoice (`send_invoice`, sales-led) need none.
   */
  private async refuseWithoutCard(current: Subscription): Promise<void> {
    if (current.status === 'trialing') return;
    const live = await this.store.retrieve(current.stripeSubscriptionId);
    if (live.collection_method !== 'charge_automatically' || idOf(live.default_payment_method)) return;
    const customer = await this.stripe.call('customers.retrieve', (sdk) =>
      sdk.customers.retrieve(idOf(live.customer) as string),
    );
    if (!customer.deleted && chargedCardOf(customer, live)) return;
    throw new BillingError(
      ErrorCode.LAST_PAYMENT_METHOD,
      'The subscription would renew with no card to charge: add a card and make it the default first, then resume',
    );
  }

  /**
   * Ends a trial now: the customer starts paying (Stripe invoices the plan at once and starts a new period),
   * which also lifts the trial's cap on usage past the allowance.
   */
  async endTrial(em: EntityManager, accountId: string): Promise<Subscription> {
    const updated = await withAccountLock(em, accountId, async () => {
      const current = await this.store.requireLive(em, accountId);
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
      return this.store.storeWrittenFor(em, current, subscription);
    });
    await this.events.accountUpdated(accountId, 'subscription.trial_ended');
    return updated;
  }
}

/**
 * Cancelling now while model calls hold credits beyond the balance is refused (billing-rules row 76): their commits
 * bill that overage after the final invoice (Stripe's `invoice_now` bills the metered usage reported by then), with
 * no subscription left to bill it on. The customer may cancel at the period end, or again once the calls are
 * committed or their holds expire (`retryAfterSeconds`). Read in the cancellation's transaction, under the account's
 * lock (the ledger's table, read only: this module does not change credits).
 */
async function refuseWithCallsInFlight(em: EntityManager, accountId: string, now: Date): Promise<void> {
  const [row] = await em.execute<Array<{ credits: string; until: Date | null }>>(
    `select coalesce(sum(overage_credits), 0) as credits, max(expires_at) as until from credit_hold
      where account_id = ? and state = 'held' and overage_credits > 0 and expires_at > ?`,
    [accountId, now],
  );
  const credits = Number(row?.credits ?? 0);
  if (credits === 0) return;
  const until = row?.until ? new Date(row.until).getTime() : now.getTime();
  throw new BillingError(
    ErrorCode.CONFLICT,
    `Model calls in progress hold ${credits} credits beyond the balance: they are billed on this subscription, so it can be cancelled now once they are done (or cancel at the period end)`,
    {
      reason: 'CALLS_IN_FLIGHT',
      heldOverageCredits: credits,
      retryAfterSeconds: Math.max(1, Math.ceil((until - now.getTime()) / 1000)),
    },
  );
}
