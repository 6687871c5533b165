/**
 * The subscription items a schedule phase stands for: an item the subscription already has for the phase's price
 * keeps its id and takes the phase's quantity; a new price becomes a new item over the current period. Used when a
 * phase starts (the subscription takes them) and by `create_preview` with `schedule` (the renewal they will bill).
 */
import type Stripe from 'stripe';
import { COLLECTIONS } from '../../core/collections';
import { type Emulator, idOf, now } from '../context';
import { customerIdOf } from '../invoices/invoices';
import { buildItem, subscriptionPeriod } from '../subscriptions/subscription-objects';

export function itemsOfPhase(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  phase: Stripe.SubscriptionSchedule.Phase,
): Stripe.SubscriptionItem[] {
  const period = subscriptionPeriod(subscription);
  return phase.items.map((item) => {
    const price = emulator.store.require(COLLECTIONS.price, idOf(item.price) ?? '', 'price');
    const existing = subscription.items.data.find((x) => x.price.id === price.id);
    if (existing) return item.quantity === undefined ? existing : { ...existing, quantity: item.quantity };
    return buildItem({
      subscription: subscription.id,
      price,
      quantity: item.quantity,
      created: now(emulator, customerIdOf(subscription)),
      periodStart: period.start,
      periodEnd: period.end,
      metadata: {},
    });
  });
}

/** The phase that starts when the schedule's current one ends, if any (what the next renewal bills). */
export function nextPhaseOf(schedule: Stripe.SubscriptionSchedule): Stripe.SubscriptionSchedule.Phase | null {
  if (schedule.status !== 'active' || !schedule.current_phase) return null;
  const index = schedule.phases.findIndex((p) => p.start_date === schedule.current_phase?.start_date);
  return schedule.phases[index + 1] ?? null;
}
