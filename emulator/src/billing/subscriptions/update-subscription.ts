/**
 * Updating a subscription's items, with prorations as Stripe computes them
 * (https://docs.stripe.com/billing/subscriptions/prorations: credit and debit by the second).
 */
import type Stripe from 'stripe';
import { invalidRequest } from '../../core/errors';
import { previousAttributes } from '../../core/store';
import { type Emulator, emit, idOf, now } from '../context';
import { createInvoiceItem } from '../invoices/invoice-item-objects';
import type { LineSpec } from '../invoices/invoice-objects';
import { customerIdOf, pendingItems } from '../invoices/invoices';
import { addIntervals, computeProration } from '../math';
import { isMetered, priceAmount, recurringOf } from '../pricing';
import { buildItem, planOf, subscriptionPeriod } from './subscription-objects';
import { COLLECTIONS } from '../../core/collections';
import {
  PaymentBehavior,
  ProrationBehavior,
  saveSubscription,
  subscriptionState,
} from './subscription-state';
import {
  billDroppedMeteredUsage,
  day,
  droppedMeteredItems,
  itemQuantity,
  licensedLines,
  quantityName,
  restartSwappedMeteredItems,
} from './subscription-lines';
import {
  assertChargeable,
  chargeFailure,
  invoiceSubscription,
  subscriptionPaymentMethod,
} from './subscription-invoicing';
import { holdUntilPaid, refusePendingUpdateOf } from './pending-update';
import { setSubscriptionAutomaticTax, setSubscriptionTaxRates } from '../tax/subscription-tax';
import { priceInCurrency } from '../../resources/price-currency-options';
import { type SaveDefaultPaymentMethod, setSaveDefaultPaymentMethod } from './save-default-payment-method';
import { discountProrationLines } from '../discounts/prorations';
import type { DiscountRequest } from '../discounts/redeem';
import { setSubscriptionDiscounts } from '../discounts/subscription-discounts';

// ---------------------------------------------------------------------------------------------
// Update

export interface ItemChange {
  id: string | null;
  price: Stripe.Price | null;
  quantity: number | undefined;
  deleted: boolean;
  metadata: Record<string, string> | undefined;
}

export interface UpdateArgs {
  items: ItemChange[];
  prorationBehavior: ProrationBehavior;
  prorationDate: number | null;
  billingCycleAnchor: 'now' | 'unchanged' | null;
  cancelAtPeriodEnd: boolean | undefined;
  cancelAt: number | 'period_end' | null | undefined;
  trialEnd: number | 'now' | undefined;
  defaultPaymentMethod: string | null | undefined;
  metadata: Record<string, string> | undefined;
  description: string | null | undefined;
  pauseCollection: Stripe.Subscription.PauseCollection | null | undefined;
  paymentBehavior: PaymentBehavior;
  saveDefaultPaymentMethod?: SaveDefaultPaymentMethod;
  /** `automatic_tax[enabled]`. */
  automaticTax?: boolean;
  /** `default_tax_rates[]`, resolved (`[]` clears). */
  defaultTaxRates?: Stripe.TaxRate[];
  /** `discounts`: undefined keeps them, null (`''`) removes them all, else the new list. */
  discounts?: DiscountRequest[] | null;
}

interface PlannedProration {
  item: Stripe.SubscriptionItem;
  oldPrice: Stripe.Price | null;
  oldQuantity: number;
  newPrice: Stripe.Price | null;
  newQuantity: number;
}

/** Applies item changes to a copy and lists what must be prorated. Shared with previews. */
export function planItemChanges(
  subscription: Stripe.Subscription,
  changes: ItemChange[],
  at: number,
): { items: Stripe.SubscriptionItem[]; prorations: PlannedProration[] } {
  const items = subscription.items.data.map((item) => structuredClone(item));
  const prorations: PlannedProration[] = [];
  const period = subscriptionPeriod(subscription);
  changes.forEach((ch, i) => {
    if (ch.id) {
      const idx = items.findIndex((item) => item.id === ch.id);
      if (idx < 0)
        throw invalidRequest(`No such subscription item: '${ch.id}'`, `items[${i}][id]`, 'resource_missing');
      const item = items[idx];
      const oldPrice = item.price;
      const oldQuantity = itemQuantity(item);
      if (ch.deleted) {
        items.splice(idx, 1);
        if (!isMetered(oldPrice))
          prorations.push({ item, oldPrice, oldQuantity, newPrice: null, newQuantity: 0 });
        return;
      }
      const newPrice = ch.price ?? oldPrice;
      const newQuantity = isMetered(newPrice) ? 1 : (ch.quantity ?? oldQuantity);
      if (newPrice.id !== oldPrice.id) {
        item.price = newPrice;
        item.plan = planOf(newPrice);
      }
      if (!isMetered(newPrice)) item.quantity = newQuantity;
      else delete item.quantity;
      if (ch.metadata) item.metadata = ch.metadata;
      if (
        (newPrice.id !== oldPrice.id || newQuantity !== oldQuantity) &&
        !isMetered(newPrice) &&
        !isMetered(oldPrice)
      ) {
        prorations.push({ item, oldPrice, oldQuantity, newPrice, newQuantity });
      }
      return;
    }
    if (!ch.price)
      throw invalidRequest(
        'Missing required param: items[0][price].',
        `items[${i}][price]`,
        'parameter_missing',
      );
    const item = buildItem({
      subscription: subscription.id,
      price: ch.price,
      quantity: isMetered(ch.price) ? undefined : (ch.quantity ?? 1),
      created: at,
      periodStart: period.start,
      periodEnd: period.end,
      metadata: ch.metadata ?? {},
    });
    items.push(item);
    if (!isMetered(ch.price)) {
      prorations.push({
        item,
        oldPrice: null,
        oldQuantity: 0,
        newPrice: ch.price,
        newQuantity: itemQuantity(item),
      });
    }
  });
  return { items, prorations };
}

/**
 * Proration lines for `planned` at `date`: a credit for the unused time on the old price and a
 * debit for the remaining time on the new one, each rounded once to the cent
 * (https://docs.stripe.com/billing/subscriptions/prorations).
 */
export function prorationLines(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  planned: PlannedProration[],
  date: number,
): LineSpec[] {
  const period = subscriptionPeriod(subscription);
  const out: LineSpec[] = [];
  for (const p of planned) {
    const base = {
      currency: subscription.currency,
      period: { start: date, end: period.end },
      proration: true,
      subscription: subscription.id,
      subscriptionItem: p.item.id,
      invoiceItem: null,
      metadata: {},
    };
    if (p.oldPrice) {
      const r = computeProration({
        oldAmount: priceAmount(priceInCurrency(p.oldPrice, subscription.currency), p.oldQuantity),
        newAmount: 0,
        periodStart: period.start,
        periodEnd: period.end,
        prorationDate: date,
      });
      if (r.credit !== 0) {
        out.push({
          ...base,
          amount: r.credit,
          description: `Unused time on ${quantityName(emulator, p.oldPrice, p.oldQuantity)} after ${day(date)}`,
          price: p.oldPrice,
          quantity: p.oldQuantity,
        });
      }
    }
    if (p.newPrice) {
      const r = computeProration({
        oldAmount: 0,
        newAmount: priceAmount(priceInCurrency(p.newPrice, subscription.currency), p.newQuantity),
        periodStart: period.start,
        periodEnd: period.end,
        prorationDate: date,
      });
      if (r.debit !== 0) {
        out.push({
          ...base,
          amount: r.debit,
          description: `Remaining time on ${quantityName(emulator, p.newPrice, p.newQuantity)} after ${day(date)}`,
          price: p.newPrice,
          quantity: p.newQuantity,
        });
      }
    }
  }
  return discountProrationLines(emulator, subscription, out, date);
}

export function recordProrationItems(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  lines: LineSpec[],
): Stripe.InvoiceItem[] {
  return lines.map((l) =>
    createInvoiceItem(emulator, {
      customer: customerIdOf(subscription),
      amount: l.amount,
      currency: l.currency,
      description: l.description,
      period: l.period,
      price: l.price,
      quantity: l.quantity ?? 1,
      proration: true,
      subscription: subscription.id,
      subscriptionItem: l.subscriptionItem,
      invoice: null,
      metadata: {},
      testClock: subscription.test_clock ? idOf(subscription.test_clock) : null,
      discounts: l.discounts,
    }),
  );
}

export function updateSubscription(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  args: UpdateArgs,
): Stripe.Subscription {
  const customerId = customerIdOf(subscription);
  const at = now(emulator, customerId);
  refuseChangesOfCanceled(subscription, args);
  const before = structuredClone(subscription);
  const plan = planUpdate(emulator, subscription, args, at);
  if (subscription.schedule && (args.cancelAtPeriodEnd !== undefined || args.cancelAt !== undefined)) {
    throw invalidRequest(
      `The subscription is managed by the subscription schedule \`${idOf(subscription.schedule)}\`, and updating any cancelation behavior directly is not allowed. Please update the schedule instead.`,
    );
  }
  refuseUnpayableUpdate(emulator, subscription, args, plan, at);
  if (args.paymentBehavior === 'pending_if_incomplete') {
    refusePendingUpdateOf(subscription);
    if (waitsForPayment(emulator, subscription, args, plan, at))
      return holdUpdate(emulator, subscription, args, plan, at);
  }
  // Redeemed only once nothing can refuse the update; they apply from the next invoice (this update's
  // prorations were priced with the discounts the subscription had until now).
  if (args.discounts !== undefined) setSubscriptionDiscounts(emulator, subscription, args.discounts);

  subscription.items.data = plan.items;
  applyFields(subscription, args, at);
  const { invoiceNow, newPeriod } = moveTrialOrCycle(emulator, subscription, args, plan, at);
  saveSubscription(emulator, subscription);
  const previous = previousAttributes(before, subscription);
  if (Object.keys(previous).length > 0)
    emit(emulator, 'customer.subscription.updated', subscription, previous);

  // Metered items that go (or change price) bill their usage so far, unless the change prorates nothing.
  restartSwappedMeteredItems(emulator, before.items.data, subscription.items.data, at);
  const usageItems =
    args.prorationBehavior !== 'none' && before.status !== 'trialing'
      ? billDroppedMeteredUsage(
          emulator,
          before,
          droppedMeteredItems(before.items.data, subscription.items.data),
          subscriptionPeriod(before),
          at,
        )
      : [];

  if (invoiceNow && newPeriod) {
    // A reset billing cycle: credit the unused time (if prorating) and bill the new period now.
    recordProrationItems(emulator, subscription, plan.resetCredits);
    const fresh = licensedLines(emulator, subscription, newPeriod);
    invoiceSubscription(emulator, subscription, 'subscription_update', fresh, { start: at, end: at });
  } else if (plan.lines.length > 0 || usageItems.length > 0) {
    recordProrationItems(emulator, subscription, plan.lines);
    if (args.prorationBehavior === 'always_invoice') {
      invoiceSubscription(emulator, subscription, 'subscription_update', [], { start: at, end: at });
    }
  }
  return subscription;
}

function refuseChangesOfCanceled(subscription: Stripe.Subscription, args: UpdateArgs): void {
  if (subscription.status !== 'canceled' && subscription.status !== 'incomplete_expired') return;
  const onlyMeta =
    args.items.length === 0 && args.cancelAtPeriodEnd === undefined && args.trialEnd === undefined;
  if (!onlyMeta) {
    throw invalidRequest(
      'A canceled subscription can only update its cancellation_details and metadata.',
      undefined,
      'invalid_canceled_subscription_fields',
    );
  }
}

/** What an update will do, worked out before anything changes. */
interface UpdatePlan {
  items: Stripe.SubscriptionItem[];
  newInterval: ReturnType<typeof recurringOf>;
  /** `billing_cycle_anchor=now`, or a new interval outside a trial: a new period starts now. */
  resetAnchor: boolean;
  /** The prorations of the item changes. */
  lines: LineSpec[];
  /** A reset billing cycle credits the unused time of every licensed item of the old period. */
  resetCredits: LineSpec[];
}

function planUpdate(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  args: UpdateArgs,
  at: number,
): UpdatePlan {
  const date = args.prorationDate ?? at;
  const { items, prorations } = planItemChanges(subscription, args.items, at);
  const oldInterval = recurringOf(subscription.items.data[0].price);
  const newFirst = items[0];
  if (!newFirst) throw invalidRequest('A subscription must have at least one active plan.', 'items');
  const newInterval = recurringOf(newFirst.price);
  const intervalChanged =
    oldInterval.interval !== newInterval.interval || oldInterval.count !== newInterval.count;
  const resetAnchor =
    args.billingCycleAnchor === 'now' || (intervalChanged && subscription.status !== 'trialing');
  const prorate = subscription.status !== 'trialing' && args.prorationBehavior !== 'none';
  const lines = prorate ? prorationLines(emulator, subscription, prorations, date) : [];
  const resetCredits =
    prorate && resetAnchor
      ? prorationLines(
          emulator,
          subscription,
          subscription.items.data
            .filter((item) => !isMetered(item.price))
            .map((item) => ({
              item,
              oldPrice: item.price,
              oldQuantity: itemQuantity(item),
              newPrice: null,
              newQuantity: 0,
            })),
          date,
        )
      : [];
  return { items, newInterval, resetAnchor, lines, resetCredits };
}

/** error_if_incomplete: a charge that would decline fails the whole update (402) and changes nothing. */
function refuseUnpayableUpdate(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  args: UpdateArgs,
  plan: UpdatePlan,
  at: number,
): void {
  if (args.paymentBehavior !== 'error_if_incomplete') return;
  if (amountDueNow(emulator, subscription, args, plan, at) > 0) {
    assertChargeable(emulator, subscriptionPaymentMethod(emulator, subscription, args.defaultPaymentMethod));
  }
}

/** pending_if_incomplete: the update makes an invoice now that its card will not pay at once (declined, or 3-D Secure). */
function waitsForPayment(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  args: UpdateArgs,
  plan: UpdatePlan,
  at: number,
): boolean {
  if (amountDueNow(emulator, subscription, args, plan, at) <= 0) return false;
  const paymentMethod = subscriptionPaymentMethod(emulator, subscription, args.defaultPaymentMethod);
  return chargeFailure(emulator, paymentMethod) !== null;
}

/**
 * What the update's own invoice charges now (a reset billing cycle, or `always_invoice` prorations, with the
 * subscription's pending invoice items it sweeps in); 0 when it makes no invoice now. Automatic collection only.
 */
function amountDueNow(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  args: UpdateArgs,
  plan: UpdatePlan,
  at: number,
): number {
  if (subscription.collection_method !== 'charge_automatically') return 0;
  const pending = pendingItems(emulator, customerIdOf(subscription), {
    subscription: subscription.id,
  }).reduce((total, invoiceItem) => total + invoiceItem.amount, 0);
  if (plan.resetAnchor && subscription.status !== 'trialing') {
    const fresh = licensedLines(emulator, withItems(subscription, plan.items), nextPeriod(plan, at));
    return [...plan.resetCredits, ...fresh].reduce((total, line) => total + line.amount, 0) + pending;
  }
  if (args.prorationBehavior === 'always_invoice' && plan.lines.length > 0) {
    return plan.lines.reduce((total, line) => total + line.amount, 0) + pending;
  }
  return 0;
}

function withItems(subscription: Stripe.Subscription, items: Stripe.SubscriptionItem[]): Stripe.Subscription {
  return { ...subscription, items: { ...subscription.items, data: items } };
}

function nextPeriod(plan: UpdatePlan, at: number): { start: number; end: number } {
  return { start: at, end: addIntervals(at, plan.newInterval.interval, plan.newInterval.count, 1) };
}

/**
 * The update as a pending update: its invoice is made and charged as it would be (the prorations, or a new
 * period's price and the unused time's credit), but the subscription keeps its items until that invoice is paid.
 */
function holdUpdate(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  args: UpdateArgs,
  plan: UpdatePlan,
  at: number,
): Stripe.Subscription {
  const change = {
    items: plan.items,
    billingCycleAnchor: plan.resetAnchor ? at : null,
    metadata: args.metadata ? changedKeys(subscription.metadata, args.metadata) : null,
    cancelAtPeriodEnd: args.cancelAtPeriodEnd ?? null,
  };
  return holdUntilPaid(emulator, subscription, change, () => {
    const window = { start: at, end: at };
    if (plan.resetAnchor) {
      recordProrationItems(emulator, subscription, plan.resetCredits);
      const fresh = licensedLines(emulator, withItems(subscription, plan.items), nextPeriod(plan, at));
      invoiceSubscription(emulator, subscription, 'subscription_update', fresh, window);
      return;
    }
    recordProrationItems(emulator, subscription, plan.lines);
    invoiceSubscription(emulator, subscription, 'subscription_update', [], window);
  });
}

/** The keys an update's metadata sets (`metadata` arrives merged with the subscription's). */
function changedKeys(current: Stripe.Metadata, merged: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(merged).filter(([key, value]) => current[key] !== value));
}

/** The plain fields an update sets: metadata, description, payment settings, cancellation. */
function applyFields(subscription: Stripe.Subscription, args: UpdateArgs, at: number): void {
  if (args.metadata) subscription.metadata = args.metadata;
  if (args.description !== undefined) subscription.description = args.description;
  if (args.defaultPaymentMethod !== undefined)
    subscription.default_payment_method = args.defaultPaymentMethod;
  if (args.pauseCollection !== undefined) subscription.pause_collection = args.pauseCollection;
  if (args.saveDefaultPaymentMethod) setSaveDefaultPaymentMethod(subscription, args.saveDefaultPaymentMethod);
  setSubscriptionAutomaticTax(subscription, args.automaticTax);
  setSubscriptionTaxRates(subscription, args.defaultTaxRates);
  if (args.cancelAtPeriodEnd !== undefined) {
    subscription.cancel_at_period_end = args.cancelAtPeriodEnd;
    subscription.cancel_at = args.cancelAtPeriodEnd ? subscriptionPeriod(subscription).end : null;
    subscription.canceled_at = args.cancelAtPeriodEnd ? at : null;
    subscription.cancellation_details = {
      comment: null,
      feedback: null,
      feedback_option: null,
      reason: args.cancelAtPeriodEnd ? 'cancellation_requested' : null,
    };
  }
  if (args.cancelAt !== undefined) {
    subscription.cancel_at =
      args.cancelAt === 'period_end' ? subscriptionPeriod(subscription).end : args.cancelAt;
    subscription.cancel_at_period_end = false;
  }
}

/**
 * A new `trial_end` (ending the trial now, or moving it) or a reset billing cycle: the items get a new period,
 * and whether it is invoiced at once.
 */
function moveTrialOrCycle(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  args: UpdateArgs,
  plan: UpdatePlan,
  at: number,
): { invoiceNow: boolean; newPeriod: { start: number; end: number } | null } {
  const { interval, count } = plan.newInterval;
  let invoiceNow = false;
  let newPeriod: { start: number; end: number } | null = null;
  if (args.trialEnd !== undefined) {
    const end = args.trialEnd === 'now' ? at : args.trialEnd;
    if (end <= at) {
      // Ending the trial now: active, new period from now, invoiced at once.
      if (subscription.status === 'trialing') {
        subscription.status = 'active';
        subscription.trial_end = at;
        newPeriod = { start: at, end: addIntervals(at, interval, count, 1) };
        subscription.billing_cycle_anchor = at;
        invoiceNow = true;
      }
    } else {
      subscription.trial_end = end;
      if (subscription.status !== 'trialing') subscription.trial_start = at;
      subscription.status = 'trialing';
      subscription.billing_cycle_anchor = end;
      newPeriod = { start: subscriptionPeriod(subscription).start, end };
      subscriptionState(emulator, subscription.id).trialWillEndSent = false;
    }
  } else if (plan.resetAnchor && subscription.status !== 'trialing') {
    newPeriod = { start: at, end: addIntervals(at, interval, count, 1) };
    subscription.billing_cycle_anchor = at;
    invoiceNow = true;
  }
  if (newPeriod) {
    for (const item of subscription.items.data) {
      item.current_period_start = newPeriod.start;
      item.current_period_end = newPeriod.end;
    }
  }
  return { invoiceNow, newPeriod };
}

// ---------------------------------------------------------------------------------------------
// Cancel

/**
 * Pending proration items of the subscription, dropped by a cancel without `invoice_now` and `prorate` (the SDK's
 * `subscriptions.cancel`: "if the subscription is set to cancel immediately, pending prorations are removed if
 * invoice_now and prorate are both set to false"); other pending items stay for the customer's next invoice.
 */
export function removePendingProrations(emulator: Emulator, subscription: Stripe.Subscription): void {
  for (const item of pendingItems(emulator, customerIdOf(subscription), { subscription: subscription.id })) {
    if (!item.proration || item.parent?.subscription_details?.subscription !== subscription.id) continue;
    emulator.store.delete(COLLECTIONS.invoiceItem, item.id);
    emit(emulator, 'invoiceitem.deleted', item);
  }
}
