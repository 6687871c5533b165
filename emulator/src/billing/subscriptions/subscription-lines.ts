/**
 * The invoice lines a subscription bills: licensed items for a period ahead, metered items for the usage of the
 * period behind (https://docs.stripe.com/billing/subscriptions/usage-based), and usage of metered items a change
 * drops or swaps.
 */
import type Stripe from 'stripe';
import { type Emulator, idOf } from '../context';
import { createInvoiceItem } from '../invoices/invoice-item-objects';
import type { LineSpec } from '../invoices/invoice-objects';
import { money, productName } from '../invoices/line-text';
import { meteredLine } from '../invoices/metered-lines';
import { customerIdOf } from '../invoices/invoices';
import { isMetered, priceAmount, recurringOf, unitAmount } from '../pricing';
import { COLLECTIONS } from '../../core/collections';
import { priceInCurrency } from '../../resources/price-currency-options';

/** Stripe's proration wording: "Unused time on Pro after …", "Remaining time on 2 × Pro after …". */
export function quantityName(emulator: Emulator, price: Stripe.Price, quantity: number): string {
  return quantity > 1 ? `${quantity} × ${productName(emulator, price)}` : productName(emulator, price);
}

export function day(ts: number): string {
  const d = new Date(ts * 1000);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

/** Stripe's line description for a licensed item: "1 × Pro (at $15.00 / month)". */
function licensedDescription(emulator: Emulator, price: Stripe.Price, quantity: number): string {
  const r = recurringOf(price);
  const every = r.count === 1 ? r.interval : `every ${r.count} ${r.interval}s`;
  if (price.billing_scheme === 'tiered') return `${quantity} × ${productName(emulator, price)} (Tiered)`;
  return `${quantity} × ${productName(emulator, price)} (at ${money(unitAmount(price), price.currency)} / ${every})`;
}

export function itemQuantity(item: Stripe.SubscriptionItem): number {
  return item.quantity ?? 1;
}

/** Licensed lines for `period` (full price) for every licensed item. */
export function licensedLines(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  period: { start: number; end: number },
): LineSpec[] {
  return subscription.items.data
    .filter((item) => !isMetered(item.price))
    .map((item) => ({ item, price: priceInCurrency(item.price, subscription.currency) }))
    .map(({ item, price }) => ({
      amount: priceAmount(price, itemQuantity(item)),
      currency: price.currency,
      description: licensedDescription(emulator, price, itemQuantity(item)),
      period,
      price,
      quantity: itemQuantity(item),
      proration: false,
      subscription: subscription.id,
      subscriptionItem: item.id,
      invoiceItem: null,
      metadata: {},
    }));
}

/**
 * Metered lines for the elapsed `period`: the meter's aggregation over the customer's events with
 * start ≤ timestamp < end, priced per unit or by tiers
 * (https://docs.stripe.com/billing/subscriptions/usage-based/pricing-models).
 */
export function meteredLines(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  period: { start: number; end: number },
): LineSpec[] {
  const customerId = customerIdOf(subscription);
  return subscription.items.data
    .filter((item) => isMetered(item.price))
    .map((item) => {
      // An item added (or given its price) mid-period bills only the usage from then on.
      const start = Math.min(period.end, Math.max(period.start, meteredSince(emulator, item)));
      return meteredLine(emulator, {
        price: priceInCurrency(item.price, subscription.currency),
        customerId,
        period: { start, end: period.end },
        subscription: subscription.id,
        subscriptionItem: item.id,
      });
    });
}

function meteredSince(emulator: Emulator, item: Stripe.SubscriptionItem): number {
  return emulator.store.get(COLLECTIONS.meteredItemSince, item.id)?.since ?? item.created;
}

function markMeteredSince(emulator: Emulator, itemId: string, at: number): void {
  emulator.store.put(COLLECTIONS.meteredItemSince, { id: itemId, since: at });
}

/**
 * The metered items of `before` that `after` no longer bills at the same price (deleted, or given another
 * price): with flexible billing mode Stripe bills their usage so far as an invoice item when they go
 * (https://docs.stripe.com/billing/subscriptions/usage-based/manage-billing-setup#update-prices-mid-cycle).
 */
export function droppedMeteredItems(
  before: readonly Stripe.SubscriptionItem[],
  after: readonly Stripe.SubscriptionItem[],
): Stripe.SubscriptionItem[] {
  return before.filter((old) => {
    if (!isMetered(old.price)) return false;
    const now = after.find((item) => item.id === old.id);
    return !now || now.price.id !== old.price.id;
  });
}

/**
 * Bills the usage of dropped metered items from their start in `period` up to `at`, as pending invoice items of
 * the subscription (the next invoice, or the one a change makes now, carries them). Returns them.
 */
export function billDroppedMeteredUsage(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  dropped: readonly Stripe.SubscriptionItem[],
  period: { start: number; end: number },
  at: number,
): Stripe.InvoiceItem[] {
  if (dropped.length === 0) return [];
  const lines = meteredLines(
    emulator,
    { ...subscription, items: { ...subscription.items, data: [...dropped] } },
    {
      start: period.start,
      end: Math.min(at, period.end),
    },
  ).filter((l) => (l.quantity ?? 0) > 0);
  return lines.map((l) =>
    createInvoiceItem(emulator, {
      customer: customerIdOf(subscription),
      amount: l.amount,
      currency: l.currency,
      description: l.description,
      period: l.period,
      price: l.price,
      quantity: l.quantity ?? 0,
      proration: false,
      subscription: subscription.id,
      subscriptionItem: l.subscriptionItem,
      invoice: null,
      metadata: {},
      testClock: subscription.test_clock ? idOf(subscription.test_clock) : null,
    }),
  );
}

/** Restarts usage counting for metered items whose price was swapped in place. */
export function restartSwappedMeteredItems(
  emulator: Emulator,
  before: readonly Stripe.SubscriptionItem[],
  after: readonly Stripe.SubscriptionItem[],
  at: number,
): void {
  for (const item of after) {
    const old = before.find((candidate) => candidate.id === item.id);
    if (old && isMetered(item.price) && old.price.id !== item.price.id)
      markMeteredSince(emulator, item.id, at);
  }
}

declare module '../../core/collections' {
  interface CollectionRecords {
    _metered_item_since: { id: string; since: number };
  }
}
