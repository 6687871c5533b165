import type Stripe from 'stripe';
import { idOf } from '../stripe/expandable';
import { ADDON_METADATA } from '../stripe/metadata-keys';

/**
 * A subscription carries one licensed item, the plan's price, and one metered item per metric its plan bills
 * as overage (Stripe bills those from the meter at the end of each period). Only the licensed item says which
 * plan, interval and period the subscription is on; code that reads "the subscription's price" must take it,
 * never whichever item Stripe happens to list first.
 */

export function isMeteredItem(item: Stripe.SubscriptionItem): boolean {
  return item.price.recurring?.usage_type === 'metered';
}

/** The add-on an item sells (its price's `coditect_addon` metadata, ADR 0024), or undefined for any other item. */
export function addonKeyOf(item: Pick<Stripe.SubscriptionItem, 'price'>): string | undefined {
  return item.price.metadata?.[ADDON_METADATA] || undefined;
}

/** The subscription's plan item: its licensed item that is not an add-on, or undefined when it has none. */
export function planItemOf(subscription: Stripe.Subscription): Stripe.SubscriptionItem | undefined {
  return subscription.items.data.find((item) => !isMeteredItem(item) && !addonKeyOf(item));
}

/**
 * Where an add-on item goes when the subscription moves to another plan or interval: to `priceId` (the add-on's
 * price of the new interval, same quantity), or nowhere (null: the new plan may not carry it, or it was removed).
 */
export interface AddonMove {
  itemId: string;
  key: string;
  quantity: number;
  priceId: string | null;
}

/** The items of a new subscription (or Checkout Session): the plan's price once, each metered price without a quantity. */
export function newSubscriptionItems(
  planPriceId: string,
  meteredPriceIds: readonly string[],
): Array<{ price: string; quantity?: number }> {
  // Stripe refuses a quantity on a metered price: its quantity is what the meter counts.
  return [{ price: planPriceId, quantity: 1 }, ...meteredPriceIds.map((price) => ({ price }))];
}

/**
 * The `items` of a subscription update that moves it to `planPriceId` with exactly `meteredPriceIds` as its
 * metered items: the plan item takes the new price, metered items that stay are left alone (their usage keeps
 * counting), metered items of other prices are deleted (another interval, or a plan that bills no overage),
 * and missing ones are added. Add-on items go where `addonMoves` says (see `AddonMove`).
 */
export function itemChangesFor(
  subscription: Stripe.Subscription,
  planPriceId: string,
  meteredPriceIds: readonly string[],
  addonMoves: readonly AddonMove[] = [],
): Stripe.SubscriptionUpdateParams.Item[] {
  const planItem = planItemOf(subscription);
  const changes: Stripe.SubscriptionUpdateParams.Item[] = planItem
    ? [{ id: planItem.id, price: planPriceId, quantity: 1 }]
    : [{ price: planPriceId, quantity: 1 }];
  const wanted = new Set(meteredPriceIds);
  for (const item of subscription.items.data) {
    if (!isMeteredItem(item)) continue;
    if (wanted.has(item.price.id)) wanted.delete(item.price.id);
    else changes.push({ id: item.id, deleted: true });
  }
  for (const price of wanted) changes.push({ price });
  for (const move of addonMoves) {
    if (move.priceId === null) changes.push({ id: move.itemId, deleted: true });
    else changes.push({ id: move.itemId, price: move.priceId, quantity: move.quantity });
  }
  return changes;
}

/** The add-on items a schedule's next phase carries on (those with a price to move to). */
export function addonPhaseItems(
  addonMoves: readonly AddonMove[],
): Array<{ price: string; quantity: number }> {
  return addonMoves.flatMap((move) =>
    move.priceId ? [{ price: move.priceId, quantity: move.quantity }] : [],
  );
}

/** A schedule phase's items for the subscription as it is now (the phase that runs until the change). */
export function currentPhaseItems(
  subscription: Stripe.Subscription,
): Stripe.SubscriptionScheduleUpdateParams.Phase.Item[] {
  return subscription.items.data.map((item) =>
    isMeteredItem(item) ? { price: item.price.id } : { price: item.price.id, quantity: item.quantity ?? 1 },
  );
}

/**
 * The phase a subscription schedule made `from_subscription` starts with, as an update must send it back: Stripe
 * drops whatever a phase update leaves out, so a downgrade scheduled during a trial would end the trial, and one
 * scheduled on a discounted or taxed subscription would lose the discount or the tax, if only the items and the
 * dates were sent.
 */
export function currentPhaseAsIs(
  subscription: Stripe.Subscription,
  phase: Stripe.SubscriptionSchedule.Phase,
): Stripe.SubscriptionScheduleUpdateParams.Phase {
  const defaultPaymentMethod = idOf(phase.default_payment_method);
  const taxRates = (phase.default_tax_rates ?? []).map((rate) => (typeof rate === 'string' ? rate : rate.id));
  const discounts = (phase.discounts ?? []).map((discount) => ({
    ...(discount.coupon ? { coupon: idOf(discount.coupon) as string } : {}),
    ...(discount.discount ? { discount: idOf(discount.discount) as string } : {}),
    ...(discount.promotion_code ? { promotion_code: idOf(discount.promotion_code) as string } : {}),
  }));
  return {
    items: currentPhaseItems(subscription),
    start_date: phase.start_date,
    end_date: phase.end_date,
    ...(phase.trial_end ? { trial_end: phase.trial_end } : {}),
    ...(taxRates.length > 0 ? { default_tax_rates: taxRates } : {}),
    ...(discounts.length > 0 ? { discounts } : {}),
    ...(phase.automatic_tax?.enabled ? { automatic_tax: { enabled: true } } : {}),
    ...(defaultPaymentMethod ? { default_payment_method: defaultPaymentMethod } : {}),
    ...(phase.collection_method ? { collection_method: phase.collection_method } : {}),
    ...(phase.metadata && Object.keys(phase.metadata).length > 0 ? { metadata: phase.metadata } : {}),
  };
}
