import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { Subscription } from '../../entities';
import { BadUserInputError, BillingError, ConflictError, ErrorCode } from '../../errors';
import type { AccountEvents } from '../accounts/account-events';
import { withAccountLock } from '../accounts/account-lock';
import type { PlanCatalog } from '../plans/plan-catalog';
import type { Addon } from '../plans/plan.types';
import { type AddonEndings, addonEndingsOf, hasEndings, withoutAddon } from '../subscriptions/addon-endings';
import type { ChargedUpdates } from '../subscriptions/charged-updates';
import type { PlanChanges } from '../subscriptions/plan-changes';
import { type PlanRules, versionOf } from '../subscriptions/plan-rules';
import { addonKeyOf } from '../subscriptions/subscription-items';
import type { SubscriptionStore } from '../subscriptions/subscription-store';
import type { Clock } from '../time/clock';

/** Why an add-on cannot be bought: `extensions.reason` of the BAD_USER_INPUT error. */
export type AddonRefusal = 'unknown' | 'no_subscription' | 'plan_not_eligible' | 'quantity';

export class AddonNotAvailableError extends BillingError {
  constructor(
    readonly reason: AddonRefusal,
    message: string,
    field: 'key' | 'quantity' = 'key',
  ) {
    super(ErrorCode.BAD_USER_INPUT, message, { field, reason });
  }
}

/**
 * Add-ons on the account's one subscription (ADR 0024, docs/billing-rules.md rows 49–52): buying one, or more units
 * of one, charges the prorated rest of the period now (`always_invoice`, as an upgrade, ADR 0022 when the bank asks);
 * removing one takes effect at the period end through the subscription schedule a downgrade uses, so what was paid is
 * kept until then and nothing is refunded.
 */
export class SubscriptionAddons {
  constructor(
    private readonly store: SubscriptionStore,
    private readonly rules: PlanRules,
    private readonly changes: PlanChanges,
    private readonly charged: ChargedUpdates,
    private readonly catalog: PlanCatalog,
    private readonly events: AccountEvents,
    private readonly clock: Clock,
  ) {}

  /** Buys `quantity` units of an add-on, or sets the units of one the subscription has to `quantity`. */
  async add(em: EntityManager, accountId: string, input: { key: string; quantity?: number | null }) {
    const addon = this.addonOrFail(input.key);
    const quantity = quantityOrFail(addon, input.quantity ?? 1);
    // Refused before the lock, which an account without a subscription (nor a customer) has nothing to hold.
    await this.liveFor(em, accountId, addon);
    const updated = await withAccountLock(em, accountId, async () => {
      const current = await this.liveFor(em, accountId, addon);
      const stripeSubscription = await this.store.retrieve(current.stripeSubscriptionId);
      const item = stripeSubscription.items.data.find((candidate) => addonKeyOf(candidate) === addon.key);
      const before = addonEndingsOf(current);
      // Whatever was asked, the add-on's removal or lower units waiting for the period end give way to it.
      const endings = withoutAddon(before, addon.key);
      const units = item?.quantity ?? 1;
      if (item && units >= quantity) {
        // Fewer units: from the period end on, as seats (rule 50); what was paid is kept until then. The same units
        // again keep the add-on as it is (bought again while its removal waited, or a retry).
        const wanted =
          units > quantity ? { ...endings, units: { ...endings.units, [addon.key]: quantity } } : endings;
        if (sameEndings(wanted, before)) return current;
        return this.changes.scheduleRemovals(em, accountId, wanted);
      }
      const priceId = item ? null : await this.priceIdFor(addon, current);
      const params: Stripe.SubscriptionUpdateParams = {
        items: [item ? { id: item.id, quantity } : { price: priceId as string, quantity }],
        // The added units for the rest of the period, charged now (https://docs.stripe.com/billing/subscriptions/prorations).
        proration_behavior: 'always_invoice',
        payment_behavior: 'error_if_incomplete',
      };
      const name = `subscription.addon:${current.stripeSubscriptionId}:${addon.key}:${quantity}:${versionOf(current)}`;
      const stored = await this.charged.update(em, current, params, name);
      // An update of items leaves a schedule in place, and its next phase (written before) would undo this one.
      if (current.scheduleId || hasEndings(before))
        return this.changes.scheduleRemovals(em, accountId, endings);
      return stored;
    });
    await this.events.accountUpdated(accountId, 'subscription.addon_added');
    return updated;
  }

  /** Removes an add-on at the period end: it stays, and its grants with it, until then. */
  async remove(em: EntityManager, accountId: string, key: string): Promise<Subscription> {
    const addon = this.addonOrFail(key);
    const updated = await withAccountLock(em, accountId, async () => {
      const current = await this.store.live(em, accountId);
      if (!current?.addons.some((carried) => carried.key === addon.key)) {
        throw new BadUserInputError(`The subscription has no ${addon.key} add-on to remove`, 'key');
      }
      if (current.addonRemovals.includes(addon.key)) return current;
      this.rules.refuseSalesLed(current, false);
      const endings = withoutAddon(addonEndingsOf(current), addon.key);
      return this.changes.scheduleRemovals(em, accountId, {
        ...endings,
        removals: [...endings.removals, addon.key],
      });
    });
    await this.events.accountUpdated(accountId, 'subscription.addon_removed');
    return updated;
  }

  private addonOrFail(key: string): Addon {
    const addon = this.catalog.findAddon(key);
    if (!addon) throw new AddonNotAvailableError('unknown', `Unknown add-on ${key}`);
    return addon;
  }

  /** The live subscription that may carry `addon`. */
  private async liveFor(em: EntityManager, accountId: string, addon: Addon): Promise<Subscription> {
    const current = await this.store.live(em, accountId);
    if (!current) {
      throw new AddonNotAvailableError(
        'no_subscription',
        `${addon.name} is added to a plan: subscribe to ${addon.plans.join(' or ')} first`,
      );
    }
    this.rules.refuseSalesLed(current, false);
    if (!addon.plans.includes(current.planKey)) {
      throw new AddonNotAvailableError(
        'plan_not_eligible',
        `${addon.name} is for the ${addon.plans.join(' and ')} plans, not ${current.planKey}`,
      );
    }
    const expiresAt = current.pendingChangeExpiresAt;
    if (current.pendingPlanKey && expiresAt && expiresAt > this.clock.now()) {
      // Stripe applies a pending update's items over any change made meanwhile once its invoice is paid.
      throw new ConflictError('A change waits for the payment’s approval: approve it (pendingAction) first');
    }
    return current;
  }

  private priceIdFor(addon: Addon, current: Subscription): Promise<string> {
    const price = addon.prices.find((candidate) => candidate.interval === current.interval);
    if (!price)
      throw new AddonNotAvailableError(
        'plan_not_eligible',
        `${addon.name} has no ${current.interval}ly price`,
      );
    return this.rules.priceId(price.lookupKey);
  }
}

/** The units asked for, within what the add-on allows (one for an add-on without a quantity). */
function quantityOrFail(addon: Addon, quantity: number): number {
  const max = addon.quantity?.max ?? 1;
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > max) {
    throw new AddonNotAvailableError(
      'quantity',
      addon.quantity ? `quantity must be from 1 to ${max}` : `${addon.name} is bought once: quantity 1`,
      'quantity',
    );
  }
  return quantity;
}

function sameEndings(a: AddonEndings, b: AddonEndings): boolean {
  const units = (endings: AddonEndings) => JSON.stringify(Object.entries(endings.units).sort());
  return a.removals.join() === b.removals.join() && units(a) === units(b);
}
