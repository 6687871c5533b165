import type Stripe from 'stripe';
import { idOf } from '../stripe/expandable';
import { ADDON_PRICE_METADATA, PLAN_PRICE_METADATA, SEATS_PRICE_METADATA } from '../stripe/metadata-keys';

/**
 * A subscription's items each have a role (ADR 0024), read from the price's metadata that `npm run stripe:sync`
 * writes and that survives a lookup key moving to a new amount:
 *   - plan: `coditect_plan` (exactly one, quantity 1): it says which plan, interval and period the subscription is on;
 *   - seats: `coditect_seats_for` (zero or one): the seats bought beyond those the plan includes;
 *   - addon: `coditect_addon` (zero or more);
 *   - overage: a metered price (`coditect_metric`), one per metric billed as overage.
 * Code that reads "the subscription's price" must take the plan item, never whichever item Stripe lists first.
 */

export type ItemRole = 'plan' | 'seats' | 'addon' | 'overage';

/** An item as Stripe gives it on a subscription or in a pending update. */
type AnyItem = Pick<Stripe.SubscriptionItem, 'price'>;

export function isMeteredItem(item: AnyItem): boolean {
  return item.price.recurring?.usage_type === 'metered';
}

/**
 * The item's role, or null for a licensed price with no role metadata (a custom enterprise price made in the
 * Dashboard, or a subscription made before the sync wrote metadata): `planItemOf` falls back to it.
 */
export function itemRoleOf(item: AnyItem): ItemRole | null {
  if (isMeteredItem(item)) return 'overage';
  const metadata = item.price.metadata ?? {};
  if (metadata[SEATS_PRICE_METADATA]) return 'seats';
  if (metadata[ADDON_PRICE_METADATA]) return 'addon';
  if (metadata[PLAN_PRICE_METADATA]) return 'plan';
  return null;
}

/**
 * The plan item among `items`: the one whose price has `coditect_plan`, else the first licensed item without a
 * role (old subscriptions, custom enterprise prices), or undefined when there is none.
 */
export function planItemAmong<Item extends AnyItem>(items: readonly Item[]): Item | undefined {
  return items.find((item) => itemRoleOf(item) === 'plan') ?? items.find((item) => itemRoleOf(item) === null);
}

/** The subscription's plan item (see `planItemAmong`). */
export function planItemOf(subscription: Stripe.Subscription): Stripe.SubscriptionItem | undefined {
  return planItemAmong(subscription.items.data);
}

/** The add-on an item sells (its price's `coditect_addon` metadata), or undefined for an item of another role. */
export function addonKeyOf(item: AnyItem): string | undefined {
  return itemRoleOf(item) === 'addon' ? item.price.metadata?.[ADDON_PRICE_METADATA] : undefined;
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

/** The add-on items a schedule's next phase carries on (those with a price to move to). */
export function addonPhaseItems(
  addonMoves: readonly AddonMove[],
): Array<{ price: string; quantity: number }> {
  return addonMoves.flatMap((move) =>
    move.priceId ? [{ price: move.priceId, quantity: move.quantity }] : [],
  );
}

/** The subscription's extra-seats item, if it carries one. */
export function seatsItemOf(subscription: Stripe.Subscription): Stripe.SubscriptionItem | undefined {
  return subscription.items.data.find((item) => itemRoleOf(item) === 'seats');
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
 * and missing ones are added. Add-on items go where `addonMoves` says (see `AddonMove`); seat items are not the
 * plan's: they are kept as they are here (the caller moves them when it must).
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
    if (itemRoleOf(item) !== 'overage') continue;
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
