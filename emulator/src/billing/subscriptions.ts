/**
 * The subscription engine: create, update (prorations), cancel, and the transitions time brings
 * (trial end, renewal, cancel at period end, incomplete expiry). Behaviour follows
 * https://docs.stripe.com/billing/subscriptions/overview (statuses, payment_behavior),
 * https://docs.stripe.com/billing/subscriptions/prorations (credit + debit per second) and
 * https://docs.stripe.com/billing/subscriptions/trials (trial end, missing payment method).
 */
import type Stripe from 'stripe';
import { cardError, invalidRequest } from '../core/errors';
import { previousAttributes } from '../core/store';
import { billingConfig } from './config';
import { C, type Emulator, emit, id, idOf, now } from './ctx';
import { onInvoice } from './hooks';
import { createInvoiceItem } from './invoice-item-objects';
import type { LineSpec } from './invoice-objects';
import { money, productName } from './line-text';
import { meteredLine } from './metered-lines';
import {
  advanceInvoice,
  createInvoice,
  customerIdOf,
  pendingItems,
  finalizeInvoice,
  paymentMethodThatPaid,
  subscriptionIdOfInvoice,
  voidInvoice,
} from './invoices';
import { addIntervals, computeProration, nextRetryAt, periodContaining } from './math';
import { cardOutcome } from './cards';
import { newSetupIntent } from './payments';
import { isMetered, priceAmount, recurringOf, unitAmount } from './pricing';
import { buildItem, buildSubscription, planOf, subPeriod } from './subscription-objects';

/** Private engine state per subscription. */
export interface SubState {
  id: string;
  trialWillEndSent: boolean;
  incompleteExpiresAt: number | null;
}

export interface ItemInput {
  price: Stripe.Price;
  quantity: number | undefined;
  metadata: Record<string, string>;
}

export type ProrationBehavior = 'create_prorations' | 'always_invoice' | 'none';
export type PaymentBehavior =
  | 'allow_incomplete'
  | 'default_incomplete'
  | 'error_if_incomplete'
  | 'pending_if_incomplete';

export function requireSubscription(emu: Emulator, subId: string): Stripe.Subscription {
  return emu.store.require<Stripe.Subscription>(C.subscription, subId, 'subscription');
}

export function subState(emu: Emulator, subId: string): SubState {
  const s = emu.store.get<SubState>(C.subState, subId);
  if (s) return s;
  const fresh: SubState = { id: subId, trialWillEndSent: false, incompleteExpiresAt: null };
  emu.store.put(C.subState, fresh);
  return fresh;
}

export function saveSub(emu: Emulator, sub: Stripe.Subscription): void {
  sub.items.has_more = false;
  emu.store.put(C.subscription, sub);
}

/** Stripe's proration wording: "Unused time on Pro after …", "Remaining time on 2 × Pro after …". */
function quantityName(emu: Emulator, price: Stripe.Price, quantity: number): string {
  return quantity > 1 ? `${quantity} × ${productName(emu, price)}` : productName(emu, price);
}

function day(ts: number): string {
  const d = new Date(ts * 1000);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

/** Stripe's line description for a licensed item: "1 × Pro (at $15.00 / month)". */
function licensedDescription(emu: Emulator, price: Stripe.Price, quantity: number): string {
  const r = recurringOf(price);
  const every = r.count === 1 ? r.interval : `every ${r.count} ${r.interval}s`;
  if (price.billing_scheme === 'tiered') return `${quantity} × ${productName(emu, price)} (Tiered)`;
  return `${quantity} × ${productName(emu, price)} (at ${money(unitAmount(price), price.currency)} / ${every})`;
}

export function itemQuantity(item: Stripe.SubscriptionItem): number {
  return item.quantity ?? 1;
}

/** Licensed lines for `period` (full price) for every licensed item. */
export function licensedLines(
  emu: Emulator,
  sub: Stripe.Subscription,
  period: { start: number; end: number },
): LineSpec[] {
  return sub.items.data
    .filter((it) => !isMetered(it.price))
    .map((it) => ({
      amount: priceAmount(it.price, itemQuantity(it)),
      currency: it.price.currency,
      description: licensedDescription(emu, it.price, itemQuantity(it)),
      period,
      price: it.price,
      quantity: itemQuantity(it),
      proration: false,
      subscription: sub.id,
      subscriptionItem: it.id,
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
  emu: Emulator,
  sub: Stripe.Subscription,
  period: { start: number; end: number },
): LineSpec[] {
  const customerId = customerIdOf(sub);
  return sub.items.data
    .filter((it) => isMetered(it.price))
    .map((it) => {
      // An item added (or given its price) mid-period bills only the usage from then on.
      const start = Math.min(period.end, Math.max(period.start, meteredSince(emu, it)));
      return meteredLine(emu, {
        price: it.price,
        customerId,
        period: { start, end: period.end },
        subscription: sub.id,
        subscriptionItem: it.id,
      });
    });
}

/** When a metered item's current price started counting usage: a price swapped in place restarts it. */
const METERED_SINCE = '_metered_item_since';

function meteredSince(emu: Emulator, item: Stripe.SubscriptionItem): number {
  return emu.store.get<{ id: string; since: number }>(METERED_SINCE, item.id)?.since ?? item.created;
}

function markMeteredSince(emu: Emulator, itemId: string, at: number): void {
  emu.store.put(METERED_SINCE, { id: itemId, since: at });
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
    const now = after.find((it) => it.id === old.id);
    return !now || now.price.id !== old.price.id;
  });
}

/**
 * Bills the usage of dropped metered items from their start in `period` up to `at`, as pending invoice items of
 * the subscription (the next invoice, or the one a change makes now, carries them). Returns them.
 */
export function billDroppedMeteredUsage(
  emu: Emulator,
  sub: Stripe.Subscription,
  dropped: readonly Stripe.SubscriptionItem[],
  period: { start: number; end: number },
  at: number,
): Stripe.InvoiceItem[] {
  if (dropped.length === 0) return [];
  const lines = meteredLines(
    emu,
    { ...sub, items: { ...sub.items, data: [...dropped] } },
    {
      start: period.start,
      end: Math.min(at, period.end),
    },
  ).filter((l) => (l.quantity ?? 0) > 0);
  return lines.map((l) =>
    createInvoiceItem(emu, {
      customer: customerIdOf(sub),
      amount: l.amount,
      currency: l.currency,
      description: l.description,
      period: l.period,
      price: l.price,
      quantity: l.quantity ?? 0,
      proration: false,
      subscription: sub.id,
      subscriptionItem: l.subscriptionItem,
      invoice: null,
      metadata: {},
      testClock: sub.test_clock ? idOf(sub.test_clock) : null,
    }),
  );
}

/** Restarts usage counting for metered items whose price was swapped in place. */
export function restartSwappedMeteredItems(
  emu: Emulator,
  before: readonly Stripe.SubscriptionItem[],
  after: readonly Stripe.SubscriptionItem[],
  at: number,
): void {
  for (const it of after) {
    const old = before.find((candidate) => candidate.id === it.id);
    if (old && isMetered(it.price) && old.price.id !== it.price.id) markMeteredSince(emu, it.id, at);
  }
}

function customerOfSub(emu: Emulator, sub: Stripe.Subscription): Stripe.Customer {
  return emu.store.require<Stripe.Customer>(C.customer, customerIdOf(sub), 'customer');
}

export function subPaymentMethod(
  emu: Emulator,
  sub: Stripe.Subscription,
  override?: string | null,
): string | null {
  const own = override !== undefined ? override : idOf(sub.default_payment_method);
  if (own) return own;
  const c = emu.store.get<Stripe.Customer>(C.customer, customerIdOf(sub));
  return idOf(c?.invoice_settings?.default_payment_method ?? null) ?? idOf(c?.default_source ?? null);
}

/**
 * How a subscription invoice is collected. `pay`: finalize and (automatic collection) charge at once, as Stripe
 * does for a subscription's first invoice (https://docs.stripe.com/billing/invoices/subscription#new-subscription-invoices),
 * `always_invoice` updates and `invoice_now` cancellations. `afterGrace`: a cycle invoice stays a draft for the
 * finalization grace period (1 h by default) and time finalizes and charges it at `automatically_finalizes_at`
 * (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period; the Invoice object: "If
 * you … have no webhooks configured, Stripe waits one hour after creation to finalize the invoice",
 * https://docs.stripe.com/api/invoices/object). `autoAdvance: false` leaves the draft alone.
 */
export interface InvoiceCollection {
  pay: boolean;
  autoAdvance?: boolean;
  afterGrace?: boolean;
}

/**
 * Creates an invoice for the subscription and collects it per `collection`. `window` is the invoice's
 * `period_start`/`period_end`: the window in which its invoice items were attached, not the service period
 * (that is on the lines).
 */
export function invoiceSubscription(
  emu: Emulator,
  sub: Stripe.Subscription,
  reason: Stripe.Invoice.BillingReason,
  lines: LineSpec[],
  window: { start: number; end: number },
  collection: InvoiceCollection = { pay: true },
): { invoice: Stripe.Invoice; ok: boolean } {
  const customer = customerOfSub(emu, sub);
  const created = now(emu, customer.id);
  const autoAdvance = collection.autoAdvance ?? true;
  const grace = billingConfig(emu).finalizationGraceSeconds;
  const waitsForGrace = collection.afterGrace === true && autoAdvance && grace > 0;
  const inv = createInvoice(
    emu,
    {
      customer,
      subscription: sub,
      billingReason: reason,
      currency: sub.currency,
      created,
      periodStart: window.start,
      periodEnd: window.end,
      collectionMethod: sub.collection_method,
      daysUntilDue: sub.days_until_due,
      defaultPaymentMethod: null,
      description: null,
      metadata: {},
      autoAdvance,
      automaticallyFinalizesAt: waitsForGrace ? created + grace : null,
    },
    lines,
    { subscription: sub.id },
  );
  sub.latest_invoice = inv.id;
  saveSub(emu, sub);
  const collectNow = collection.pay || (collection.afterGrace === true && autoAdvance && grace === 0);
  if (!collectNow) return { invoice: inv, ok: false };
  const r = advanceInvoice(emu, inv);
  return { invoice: r.invoice, ok: r.ok };
}

/** 402 (or 400 without a payment method) when charging `paymentMethod` would fail. */
function assertChargeable(emu: Emulator, paymentMethod: string | null): void {
  if (!paymentMethod) {
    throw invalidRequest(
      'This customer has no attached payment source or default payment method. Please consider adding a default payment method.',
    );
  }
  const o = cardOutcome(emu, paymentMethod);
  if (!o.ok) throw cardError(o.code, o.message, o.declineCode);
}

// ---------------------------------------------------------------------------------------------
// Create

export interface CreateArgs {
  customer: Stripe.Customer;
  items: ItemInput[];
  trialEnd: number | null;
  trialFromPlan: boolean;
  missingPaymentMethod: 'cancel' | 'create_invoice' | 'pause';
  paymentBehavior: PaymentBehavior;
  defaultPaymentMethod: string | null;
  billingCycleAnchor: number | null;
  /** `period_end`: Stripe's `max_period_end` / `min_period_end` / `max_billed_until`. */
  cancelAt: number | 'period_end' | null;
  cancelAtPeriodEnd: boolean;
  collectionMethod: 'charge_automatically' | 'send_invoice';
  daysUntilDue: number | null;
  description: string | null;
  metadata: Record<string, string>;
  prorationBehavior: ProrationBehavior;
  /** `payment_settings.save_default_payment_method` (default `off`). */
  saveDefaultPaymentMethod?: SaveDefaultPaymentMethod;
}

export type SaveDefaultPaymentMethod = Stripe.Subscription.PaymentSettings.SaveDefaultPaymentMethod;

function setSaveDefaultPaymentMethod(
  subscription: Stripe.Subscription,
  value: SaveDefaultPaymentMethod,
): void {
  if (subscription.payment_settings) subscription.payment_settings.save_default_payment_method = value;
}

export function createSubscription(emu: Emulator, args: CreateArgs): Stripe.Subscription {
  const customer = args.customer;
  if (args.items.length === 0)
    throw invalidRequest('Missing required param: items.', 'items', 'parameter_missing');
  const currency = args.items[0].price.currency;
  args.items.forEach((it, i) => {
    if (!it.price.recurring) {
      throw invalidRequest(
        `The price specified is set to \`type=one_time\` but this field only accepts prices with \`type=recurring\`.`,
        `items[${i}][price]`,
      );
    }
    if (it.price.currency !== currency) {
      throw invalidRequest('All prices on a subscription must have the same currency.', `items[${i}][price]`);
    }
  });
  const at = now(emu, customer.id);
  let trialEnd = args.trialEnd;
  if (trialEnd === null && args.trialFromPlan) {
    const days = args.items[0].price.recurring?.trial_period_days ?? null;
    if (days) trialEnd = at + days * 86_400;
  }
  if (trialEnd !== null && trialEnd <= at) trialEnd = null; // trial_end=now: no trial
  const trialing = trialEnd !== null;
  const pm = args.defaultPaymentMethod;
  const { interval, count } = recurringOf(args.items[0].price);

  // The first period: a trial runs to trial_end (which becomes the anchor); a future
  // billing_cycle_anchor gives a prorated first period up to it; otherwise a full period.
  let anchor = trialing ? (trialEnd as number) : (args.billingCycleAnchor ?? at);
  let periodStart = at;
  let periodEnd: number;
  if (trialing) periodEnd = trialEnd as number;
  else if (anchor > at) periodEnd = anchor;
  else {
    anchor = at;
    periodEnd = addIntervals(anchor, interval, count, 1);
  }
  if (!trialing && args.billingCycleAnchor === null) periodStart = anchor;

  const firstAmount = trialing
    ? 0
    : args.items
        .filter((i) => !isMetered(i.price))
        .reduce((s, i) => s + priceAmount(i.price, i.quantity ?? 1), 0);

  // error_if_incomplete: a payment that would fail creates nothing (402, as Stripe).
  if (
    args.paymentBehavior === 'error_if_incomplete' &&
    firstAmount > 0 &&
    args.collectionMethod === 'charge_automatically'
  ) {
    assertChargeable(
      emu,
      pm ??
        idOf(customer.invoice_settings?.default_payment_method ?? null) ??
        idOf(customer.default_source ?? null),
    );
  }

  const subId = id('sub');
  const sub = buildSubscription({
    id: subId,
    customer: customer.id,
    currency,
    created: at,
    anchor,
    status: trialing ? 'trialing' : 'incomplete',
    trialStart: trialing ? at : null,
    trialEnd,
    missingPaymentMethod: args.missingPaymentMethod,
    defaultPaymentMethod: pm,
    collectionMethod: args.collectionMethod,
    daysUntilDue: args.collectionMethod === 'send_invoice' ? (args.daysUntilDue ?? 30) : null,
    cancelAt: args.cancelAt === 'period_end' ? periodEnd : args.cancelAt,
    cancelAtPeriodEnd: args.cancelAtPeriodEnd,
    description: args.description,
    metadata: args.metadata,
    testClock: idOf(customer.test_clock),
  });
  setSaveDefaultPaymentMethod(sub, args.saveDefaultPaymentMethod ?? 'off');
  for (const it of args.items) {
    sub.items.data.push(
      buildItem({
        subscription: subId,
        price: it.price,
        quantity: isMetered(it.price) ? undefined : (it.quantity ?? 1),
        created: at,
        periodStart,
        periodEnd,
        metadata: it.metadata,
      }),
    );
  }
  saveSub(emu, sub);
  const state = subState(emu, subId);
  emit(emu, 'customer.subscription.created', sub);

  // First invoice: the trial's $0 invoice, or the first period (prorated up to a future anchor).
  const period = { start: at, end: periodEnd };
  let lines: LineSpec[];
  if (trialing) {
    lines = licensedLines(emu, sub, period).map((l) => ({
      ...l,
      amount: 0,
      description: `Trial period for ${l.description?.replace(/^\d+ × /, '').replace(/ \(.*\)$/, '') ?? ''}`,
    }));
  } else if (args.billingCycleAnchor !== null && anchor > at && args.prorationBehavior !== 'none') {
    const full = addIntervals(anchor, interval, -count, 1);
    const periodSeconds = anchor - Math.min(full, at);
    lines = licensedLines(emu, sub, period).map((l) => ({
      ...l,
      amount: computeProration({
        oldAmount: 0,
        newAmount: l.amount,
        periodStart: anchor - periodSeconds,
        periodEnd: anchor,
        prorationDate: at,
      }).debit,
      proration: true,
      description: `Remaining time on ${l.price ? quantityName(emu, l.price, l.quantity ?? 1) : l.description} after ${day(at)}`,
    }));
  } else if (args.billingCycleAnchor !== null && anchor > at) {
    lines = [];
  } else {
    lines = licensedLines(emu, sub, period);
  }

  const pay = args.paymentBehavior !== 'default_incomplete';
  // A first invoice's items were all attached at creation: its window starts and ends there.
  const createdWindow = { start: at, end: at };
  const { invoice } = invoiceSubscription(emu, sub, 'subscription_create', lines, createdWindow, {
    pay: pay && args.collectionMethod === 'charge_automatically',
  });
  if (!pay || args.collectionMethod === 'send_invoice') {
    // default_incomplete: the invoice is finalized and waits for the client to confirm its
    // payment intent (`latest_invoice.confirmation_secret`); trials get a pending setup intent.
    if (invoice.status === 'draft') finalizeInvoice(emu, invoice);
    if (trialing && !pm && args.paymentBehavior === 'default_incomplete') {
      const si = newSetupIntent(emu, { customer: customer.id });
      sub.pending_setup_intent = si.id;
    }
    if (invoice.status === 'paid' && sub.status === 'incomplete') activate(emu, sub);
    if (args.collectionMethod === 'send_invoice' && !trialing) activate(emu, sub);
  }
  // allow_incomplete with a decline: the subscription stays incomplete with an open invoice
  // and expires after 23 hours unpaid.
  if (sub.status === 'incomplete') {
    state.incompleteExpiresAt = at + billingConfig(emu).incompleteExpirySeconds;
    emu.store.put(C.subState, state);
  }
  saveSub(emu, sub);
  // A trial shorter than the notice period: `trial_will_end` goes out right away.
  if (trialing && trialEnd !== null && trialEnd - billingConfig(emu).trialWillEndSeconds <= at) {
    sendTrialWillEnd(emu, sub);
  }
  return sub;
}

/**
 * `payment_settings.save_default_payment_method: on_subscription`: "Configure whether Stripe updates
 * `subscription.default_payment_method` when payment succeeds" (the SDK's Subscription type): the payment method
 * that paid one of the subscription's invoices becomes its default, if it is not already.
 */
function paymentMethodToSave(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  invoice: Stripe.Invoice,
): string | null {
  if (subscription.payment_settings?.save_default_payment_method !== 'on_subscription') return null;
  const paidWith = paymentMethodThatPaid(emulator, invoice);
  return paidWith && paidWith !== idOf(subscription.default_payment_method) ? paidWith : null;
}

/** incomplete|past_due|unpaid → active, with `customer.subscription.updated`. */
function activate(emu: Emulator, sub: Stripe.Subscription): void {
  if (sub.status === 'active' || sub.status === 'trialing' || sub.status === 'canceled') return;
  const { obj, previous } = emu.store.update<Stripe.Subscription>(C.subscription, sub.id, (s) => {
    s.status = 'active';
  });
  emit(emu, 'customer.subscription.updated', obj, previous);
}

// Invoice outcomes drive subscription statuses.
onInvoice({
  paid: (emu, inv) => {
    const subId = subscriptionIdOfInvoice(inv);
    if (!subId) return;
    const sub = emu.store.get<Stripe.Subscription>(C.subscription, subId);
    if (!sub) return;
    const recovers =
      sub.status === 'past_due' ||
      sub.status === 'unpaid' ||
      // Only when no other invoice of the subscription is still open (Stripe: latest invoice).
      (sub.status === 'incomplete' && sub.latest_invoice === inv.id);
    const newDefault = paymentMethodToSave(emu, sub, inv);
    if (!recovers && !newDefault) return;
    const { obj, previous } = emu.store.update<Stripe.Subscription>(C.subscription, sub.id, (s) => {
      if (recovers) s.status = 'active';
      if (newDefault) s.default_payment_method = newDefault;
    });
    emit(emu, 'customer.subscription.updated', obj, previous);
  },
  paymentFailed: (emu, inv, finalAttempt) => {
    const subId = subscriptionIdOfInvoice(inv);
    if (!subId) return;
    const sub = emu.store.get<Stripe.Subscription>(C.subscription, subId);
    if (!sub || sub.status === 'canceled' || sub.status === 'incomplete_expired') return;
    if (sub.status === 'incomplete') return; // first invoice: stays incomplete
    if (sub.status === 'active' || sub.status === 'trialing') {
      const { obj, previous } = emu.store.update<Stripe.Subscription>(C.subscription, sub.id, (s) => {
        s.status = 'past_due';
      });
      emit(emu, 'customer.subscription.updated', obj, previous);
    }
    if (finalAttempt && inv.billing_reason !== 'manual') applyFinalStatus(emu, sub);
  },
  nextAttempt: (emu, inv, failedAt) => {
    const subId = subscriptionIdOfInvoice(inv);
    if (!subId) return null;
    const sub = emu.store.get<Stripe.Subscription>(C.subscription, subId);
    // Stripe stops automatic collection once a subscription is canceled (a draft finalized after that is tried once).
    if (
      !sub ||
      sub.status === 'incomplete' ||
      sub.status === 'canceled' ||
      inv.billing_reason === 'subscription_create'
    )
      return null;
    const cfg = billingConfig(emu);
    return nextRetryAt(
      { delays: cfg.retrySchedule, finalStatus: cfg.finalStatus },
      inv.attempt_count,
      failedAt,
    );
  },
});

/** After the last retry fails: Stripe's "manage failed payments" setting. */
function applyFinalStatus(emu: Emulator, sub: Stripe.Subscription): void {
  const final = billingConfig(emu).finalStatus;
  if (final === 'canceled') {
    cancelNow(emu, sub, { invoiceNow: false, prorate: false, reason: 'payment_failed' });
  } else if (final === 'unpaid') {
    if (sub.status === 'unpaid') return;
    const { obj, previous } = emu.store.update<Stripe.Subscription>(C.subscription, sub.id, (s) => {
      s.status = 'unpaid';
    });
    emit(emu, 'customer.subscription.updated', obj, previous);
  }
}

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
  sub: Stripe.Subscription,
  changes: ItemChange[],
  at: number,
): { items: Stripe.SubscriptionItem[]; prorations: PlannedProration[] } {
  const items = sub.items.data.map((it) => structuredClone(it));
  const prorations: PlannedProration[] = [];
  const period = subPeriod(sub);
  changes.forEach((ch, i) => {
    if (ch.id) {
      const idx = items.findIndex((it) => it.id === ch.id);
      if (idx < 0)
        throw invalidRequest(`No such subscription item: '${ch.id}'`, `items[${i}][id]`, 'resource_missing');
      const it = items[idx];
      const oldPrice = it.price;
      const oldQuantity = itemQuantity(it);
      if (ch.deleted) {
        items.splice(idx, 1);
        if (!isMetered(oldPrice))
          prorations.push({ item: it, oldPrice, oldQuantity, newPrice: null, newQuantity: 0 });
        return;
      }
      const newPrice = ch.price ?? oldPrice;
      const newQuantity = isMetered(newPrice) ? 1 : (ch.quantity ?? oldQuantity);
      if (newPrice.id !== oldPrice.id) {
        it.price = newPrice;
        it.plan = planOf(newPrice);
      }
      if (!isMetered(newPrice)) it.quantity = newQuantity;
      else delete it.quantity;
      if (ch.metadata) it.metadata = ch.metadata;
      if (
        (newPrice.id !== oldPrice.id || newQuantity !== oldQuantity) &&
        !isMetered(newPrice) &&
        !isMetered(oldPrice)
      ) {
        prorations.push({ item: it, oldPrice, oldQuantity, newPrice, newQuantity });
      }
      return;
    }
    if (!ch.price)
      throw invalidRequest(
        'Missing required param: items[0][price].',
        `items[${i}][price]`,
        'parameter_missing',
      );
    const it = buildItem({
      subscription: sub.id,
      price: ch.price,
      quantity: isMetered(ch.price) ? undefined : (ch.quantity ?? 1),
      created: at,
      periodStart: period.start,
      periodEnd: period.end,
      metadata: ch.metadata ?? {},
    });
    items.push(it);
    if (!isMetered(ch.price)) {
      prorations.push({
        item: it,
        oldPrice: null,
        oldQuantity: 0,
        newPrice: ch.price,
        newQuantity: itemQuantity(it),
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
  emu: Emulator,
  sub: Stripe.Subscription,
  planned: PlannedProration[],
  date: number,
): LineSpec[] {
  const period = subPeriod(sub);
  const out: LineSpec[] = [];
  for (const p of planned) {
    const base = {
      currency: sub.currency,
      period: { start: date, end: period.end },
      proration: true,
      subscription: sub.id,
      subscriptionItem: p.item.id,
      invoiceItem: null,
      metadata: {},
    };
    if (p.oldPrice) {
      const r = computeProration({
        oldAmount: priceAmount(p.oldPrice, p.oldQuantity),
        newAmount: 0,
        periodStart: period.start,
        periodEnd: period.end,
        prorationDate: date,
      });
      if (r.credit !== 0) {
        out.push({
          ...base,
          amount: r.credit,
          description: `Unused time on ${quantityName(emu, p.oldPrice, p.oldQuantity)} after ${day(date)}`,
          price: p.oldPrice,
          quantity: p.oldQuantity,
        });
      }
    }
    if (p.newPrice) {
      const r = computeProration({
        oldAmount: 0,
        newAmount: priceAmount(p.newPrice, p.newQuantity),
        periodStart: period.start,
        periodEnd: period.end,
        prorationDate: date,
      });
      if (r.debit !== 0) {
        out.push({
          ...base,
          amount: r.debit,
          description: `Remaining time on ${quantityName(emu, p.newPrice, p.newQuantity)} after ${day(date)}`,
          price: p.newPrice,
          quantity: p.newQuantity,
        });
      }
    }
  }
  return out;
}

function recordProrationItems(
  emu: Emulator,
  sub: Stripe.Subscription,
  lines: LineSpec[],
): Stripe.InvoiceItem[] {
  return lines.map((l) =>
    createInvoiceItem(emu, {
      customer: customerIdOf(sub),
      amount: l.amount,
      currency: l.currency,
      description: l.description,
      period: l.period,
      price: l.price,
      quantity: l.quantity ?? 1,
      proration: true,
      subscription: sub.id,
      subscriptionItem: l.subscriptionItem,
      invoice: null,
      metadata: {},
      testClock: sub.test_clock ? idOf(sub.test_clock) : null,
    }),
  );
}

export function updateSubscription(
  emu: Emulator,
  sub: Stripe.Subscription,
  args: UpdateArgs,
): Stripe.Subscription {
  const customerId = customerIdOf(sub);
  const at = now(emu, customerId);
  if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
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
  const before = structuredClone(sub);
  const date = args.prorationDate ?? at;
  const { items, prorations } = planItemChanges(sub, args.items, at);
  const oldInterval = recurringOf(sub.items.data[0].price);
  const newFirst = items[0];
  if (!newFirst) throw invalidRequest('A subscription must have at least one active plan.', 'items');
  const newInterval = recurringOf(newFirst.price);
  const intervalChanged =
    oldInterval.interval !== newInterval.interval || oldInterval.count !== newInterval.count;
  const resetAnchor = args.billingCycleAnchor === 'now' || (intervalChanged && sub.status !== 'trialing');
  const prorate = sub.status !== 'trialing' && args.prorationBehavior !== 'none';
  const lines = prorate ? prorationLines(emu, sub, prorations, date) : [];
  // A reset billing cycle credits the unused time of every licensed item of the old period.
  const resetCredits =
    prorate && resetAnchor
      ? prorationLines(
          emu,
          sub,
          sub.items.data
            .filter((it) => !isMetered(it.price))
            .map((it) => ({
              item: it,
              oldPrice: it.price,
              oldQuantity: itemQuantity(it),
              newPrice: null,
              newQuantity: 0,
            })),
          date,
        )
      : [];
  if (sub.schedule && (args.cancelAtPeriodEnd !== undefined || args.cancelAt !== undefined)) {
    throw invalidRequest(
      `The subscription is managed by the subscription schedule \`${idOf(sub.schedule)}\`, and updating any cancelation behavior directly is not allowed. Please update the schedule instead.`,
    );
  }
  if (args.paymentBehavior === 'error_if_incomplete' && sub.collection_method === 'charge_automatically') {
    // A charge that would decline fails the whole update (402) and changes nothing.
    const pending = pendingItems(emu, customerId, { subscription: sub.id }).reduce(
      (t, ii) => t + ii.amount,
      0,
    );
    let dueNow = 0;
    if (resetAnchor && sub.status !== 'trialing') {
      const next = { start: at, end: addIntervals(at, newInterval.interval, newInterval.count, 1) };
      const fresh = licensedLines(emu, { ...sub, items: { ...sub.items, data: items } }, next);
      dueNow = [...resetCredits, ...fresh].reduce((t, l) => t + l.amount, 0) + pending;
    } else if (args.prorationBehavior === 'always_invoice' && lines.length > 0) {
      dueNow = lines.reduce((t, l) => t + l.amount, 0) + pending;
    }
    if (dueNow > 0) assertChargeable(emu, subPaymentMethod(emu, sub, args.defaultPaymentMethod));
  }

  sub.items.data = items;
  if (args.metadata) sub.metadata = args.metadata;
  if (args.description !== undefined) sub.description = args.description;
  if (args.defaultPaymentMethod !== undefined) sub.default_payment_method = args.defaultPaymentMethod;
  if (args.pauseCollection !== undefined) sub.pause_collection = args.pauseCollection;
  if (args.saveDefaultPaymentMethod) setSaveDefaultPaymentMethod(sub, args.saveDefaultPaymentMethod);
  if (args.cancelAtPeriodEnd !== undefined) {
    sub.cancel_at_period_end = args.cancelAtPeriodEnd;
    sub.cancel_at = args.cancelAtPeriodEnd ? subPeriod(sub).end : null;
    sub.canceled_at = args.cancelAtPeriodEnd ? at : null;
    sub.cancellation_details = {
      comment: null,
      feedback: null,
      feedback_option: null,
      reason: args.cancelAtPeriodEnd ? 'cancellation_requested' : null,
    };
  }
  if (args.cancelAt !== undefined) {
    sub.cancel_at = args.cancelAt === 'period_end' ? subPeriod(sub).end : args.cancelAt;
    sub.cancel_at_period_end = false;
  }

  let invoiceNow = false;
  let newPeriod: { start: number; end: number } | null = null;
  if (args.trialEnd !== undefined) {
    const end = args.trialEnd === 'now' ? at : args.trialEnd;
    if (end <= at) {
      // Ending the trial now: active, new period from now, invoiced at once.
      if (sub.status === 'trialing') {
        sub.status = 'active';
        sub.trial_end = at;
        newPeriod = { start: at, end: addIntervals(at, newInterval.interval, newInterval.count, 1) };
        sub.billing_cycle_anchor = at;
        invoiceNow = true;
      }
    } else {
      sub.trial_end = end;
      if (sub.status !== 'trialing') sub.trial_start = at;
      sub.status = 'trialing';
      sub.billing_cycle_anchor = end;
      newPeriod = { start: subPeriod(sub).start, end };
      subState(emu, sub.id).trialWillEndSent = false;
    }
  } else if (resetAnchor && sub.status !== 'trialing') {
    newPeriod = { start: at, end: addIntervals(at, newInterval.interval, newInterval.count, 1) };
    sub.billing_cycle_anchor = at;
    invoiceNow = true;
  }
  if (newPeriod) {
    for (const it of sub.items.data) {
      it.current_period_start = newPeriod.start;
      it.current_period_end = newPeriod.end;
    }
  }
  saveSub(emu, sub);
  const previous = previousAttributes(before, sub);
  if (Object.keys(previous).length > 0) emit(emu, 'customer.subscription.updated', sub, previous);

  // Metered items that go (or change price) bill their usage so far, unless the change prorates nothing.
  restartSwappedMeteredItems(emu, before.items.data, sub.items.data, at);
  const usageItems =
    args.prorationBehavior !== 'none' && before.status !== 'trialing'
      ? billDroppedMeteredUsage(
          emu,
          before,
          droppedMeteredItems(before.items.data, sub.items.data),
          subPeriod(before),
          at,
        )
      : [];

  if (invoiceNow && newPeriod) {
    // A reset billing cycle: credit the unused time (if prorating) and bill the new period now.
    recordProrationItems(emu, sub, resetCredits);
    const fresh = licensedLines(emu, sub, newPeriod);
    invoiceSubscription(emu, sub, 'subscription_update', fresh, { start: at, end: at });
  } else if (lines.length > 0 || usageItems.length > 0) {
    recordProrationItems(emu, sub, lines);
    if (args.prorationBehavior === 'always_invoice') {
      invoiceSubscription(emu, sub, 'subscription_update', [], { start: at, end: at });
    }
  }
  return sub;
}

// ---------------------------------------------------------------------------------------------
// Cancel

/**
 * Pending proration items of the subscription, dropped by a cancel without `invoice_now` and `prorate` (the SDK's
 * `subscriptions.cancel`: "if the subscription is set to cancel immediately, pending prorations are removed if
 * invoice_now and prorate are both set to false"); other pending items stay for the customer's next invoice.
 */
function removePendingProrations(emulator: Emulator, subscription: Stripe.Subscription): void {
  for (const item of pendingItems(emulator, customerIdOf(subscription), { subscription: subscription.id })) {
    if (!item.proration || item.parent?.subscription_details?.subscription !== subscription.id) continue;
    emulator.store.delete(C.invoiceItem, item.id);
    emit(emulator, 'invoiceitem.deleted', item);
  }
}

/**
 * Ends the subscription now (`DELETE /v1/subscriptions/:id`, https://docs.stripe.com/api/subscriptions/cancel and
 * the SDK's `SubscriptionCancelParams`): `prorate` adds an invoice item crediting the unused time of the licensed
 * items; `invoice_now` makes a final invoice, charged at once, with the metered usage of the period so far and the
 * pending items (that credit included). Without `invoice_now` the period's usage is not billed ("all metered usage
 * is discarded"); `dropPendingProrations` (both flags false on the API) removes the pending prorations.
 */
export function cancelNow(
  emu: Emulator,
  sub: Stripe.Subscription,
  opts: {
    invoiceNow: boolean;
    prorate: boolean;
    reason: Stripe.Subscription.CancellationDetails.Reason | null;
    dropPendingProrations?: boolean;
  },
): Stripe.Subscription {
  if (sub.status === 'canceled') {
    throw invalidRequest(`No such subscription: '${sub.id}'`, 'id', 'resource_missing');
  }
  const at = now(emu, customerIdOf(sub));
  const period = subPeriod(sub);
  if (opts.prorate && sub.status === 'active') {
    const planned = sub.items.data
      .filter((it) => !isMetered(it.price))
      .map((it) => ({
        item: it,
        oldPrice: it.price,
        oldQuantity: itemQuantity(it),
        newPrice: null,
        newQuantity: 0,
      }));
    recordProrationItems(emu, sub, prorationLines(emu, sub, planned, at));
  }
  if (opts.dropPendingProrations && !opts.invoiceNow && !opts.prorate) removePendingProrations(emu, sub);
  if (opts.invoiceNow) {
    const metered = meteredLines(emu, sub, { start: period.start, end: at }).filter((l) => l.amount !== 0);
    invoiceSubscription(emu, sub, 'subscription_cycle', metered, { start: period.start, end: at });
  }
  // Stripe stops automatic collection of the subscription's open invoices.
  for (const inv of emu.store.all<Stripe.Invoice>(C.invoice)) {
    if (
      subscriptionIdOfInvoice(inv) === sub.id &&
      inv.status === 'open' &&
      inv.next_payment_attempt !== null
    ) {
      inv.next_payment_attempt = null;
      inv.auto_advance = false;
      emu.store.put(C.invoice, inv);
    }
    if (subscriptionIdOfInvoice(inv) === sub.id && inv.status === 'open' && sub.status === 'incomplete') {
      voidInvoice(emu, inv);
    }
  }
  const { obj } = emu.store.update<Stripe.Subscription>(C.subscription, sub.id, (s) => {
    s.status = 'canceled';
    s.canceled_at = s.canceled_at ?? at;
    s.ended_at = at;
    if (opts.reason)
      s.cancellation_details = {
        ...(s.cancellation_details ?? { comment: null, feedback: null, feedback_option: null }),
        reason: opts.reason,
      };
  });
  emit(emu, 'customer.subscription.deleted', obj);
  return obj;
}

// ---------------------------------------------------------------------------------------------
// What time brings

/** trialing → active (or per `missing_payment_method`), with the first `subscription_cycle` invoice. */
export function endTrial(emu: Emulator, sub: Stripe.Subscription): void {
  const at = sub.trial_end ?? now(emu, customerIdOf(sub));
  const behavior = sub.trial_settings?.end_behavior.missing_payment_method ?? 'create_invoice';
  const pm = subPaymentMethod(emu, sub);
  if (!pm && behavior === 'cancel') {
    cancelNow(emu, sub, { invoiceNow: false, prorate: false, reason: null });
    return;
  }
  if (!pm && behavior === 'pause') {
    const { obj, previous } = emu.store.update<Stripe.Subscription>(C.subscription, sub.id, (s) => {
      s.status = 'paused';
    });
    emit(emu, 'customer.subscription.updated', obj, previous);
    emit(emu, 'customer.subscription.paused', obj);
    return;
  }
  const { interval, count } = recurringOf(sub.items.data[0].price);
  const period = { start: at, end: addIntervals(sub.billing_cycle_anchor, interval, count, 1) };
  const { obj, previous } = emu.store.update<Stripe.Subscription>(C.subscription, sub.id, (s) => {
    s.status = 'active';
    for (const it of s.items.data) {
      it.current_period_start = period.start;
      it.current_period_end = period.end;
    }
  });
  emit(emu, 'customer.subscription.updated', obj, previous);
  // The trial-end invoice looks back over the trial (its window); it bills the new period's licensed items and no
  // usage of the trial ("any usage accrued doesn't count toward the total charged to the customer",
  // https://docs.stripe.com/billing/subscriptions/trials), then finalizes after the grace period.
  const trialWindow = { start: sub.trial_start ?? sub.created, end: at };
  invoiceSubscription(emu, obj, 'subscription_cycle', licensedLines(emu, obj, period), trialWindow, {
    pay: false,
    afterGrace: true,
  });
}

/**
 * The period end: one `subscription_cycle` invoice with licensed items for the new period and
 * metered items for the elapsed one; or the end of a subscription set to cancel.
 */
export function renew(emu: Emulator, sub: Stripe.Subscription): void {
  const old = subPeriod(sub);
  if (sub.cancel_at !== null && sub.cancel_at <= old.end) {
    const at = sub.cancel_at;
    const metered = meteredLines(emu, sub, { start: old.start, end: at }).filter((l) => l.amount !== 0);
    const pending = emu.store
      .all<Stripe.InvoiceItem>(C.invoiceItem)
      .some((ii) => ii.invoice === null && ii.parent?.subscription_details?.subscription === sub.id);
    if (metered.length > 0 || pending) {
      invoiceSubscription(
        emu,
        sub,
        'subscription_cycle',
        metered,
        { start: old.start, end: at },
        {
          pay: false,
          afterGrace: true,
        },
      );
    }
    cancelNow(emu, sub, {
      invoiceNow: false,
      prorate: false,
      reason: sub.cancellation_details?.reason ?? 'cancellation_requested',
    });
    return;
  }
  const { interval, count } = recurringOf(sub.items.data[0].price);
  const next = periodContaining(sub.billing_cycle_anchor, interval, count, old.end);
  const newPeriod = {
    start: old.end,
    end: next.end > old.end ? next.end : addIntervals(old.end, interval, count, 1),
  };
  const metered = meteredLines(emu, sub, old);
  const { obj, previous } = emu.store.update<Stripe.Subscription>(C.subscription, sub.id, (s) => {
    for (const it of s.items.data) {
      it.current_period_start = newPeriod.start;
      it.current_period_end = newPeriod.end;
    }
  });
  emit(emu, 'customer.subscription.updated', obj, previous);
  const lines = [...licensedLines(emu, obj, newPeriod), ...metered];
  // An unpaid subscription keeps generating invoices, left as drafts (Stripe: no collection). Otherwise the
  // draft waits out the grace period, in which late usage of the elapsed period still counts. Its window looks
  // back one period (the service periods are on the lines).
  const unpaid = obj.status === 'unpaid';
  invoiceSubscription(emu, obj, 'subscription_cycle', lines, old, {
    pay: false,
    autoAdvance: !unpaid,
    afterGrace: true,
  });
}

export function sendTrialWillEnd(emu: Emulator, sub: Stripe.Subscription): void {
  const st = subState(emu, sub.id);
  st.trialWillEndSent = true;
  emu.store.put(C.subState, st);
  emit(emu, 'customer.subscription.trial_will_end', sub);
}

export function expireIncomplete(emu: Emulator, sub: Stripe.Subscription): void {
  for (const inv of emu.store.all<Stripe.Invoice>(C.invoice)) {
    if (subscriptionIdOfInvoice(inv) === sub.id && inv.status === 'open') voidInvoice(emu, inv);
  }
  const at = now(emu, customerIdOf(sub));
  const { obj, previous } = emu.store.update<Stripe.Subscription>(C.subscription, sub.id, (s) => {
    s.status = 'incomplete_expired';
    s.ended_at = at;
  });
  const st = subState(emu, sub.id);
  st.incompleteExpiresAt = null;
  emu.store.put(C.subState, st);
  emit(emu, 'customer.subscription.updated', obj, previous);
}

/** paused → active (`/resume`): a new period from now, invoiced at once. */
export function resumeSubscription(emu: Emulator, sub: Stripe.Subscription): Stripe.Subscription {
  if (sub.status !== 'paused') {
    throw invalidRequest('Only a paused subscription can be resumed.', undefined, 'subscription_not_paused');
  }
  const at = now(emu, customerIdOf(sub));
  const { interval, count } = recurringOf(sub.items.data[0].price);
  const period = { start: at, end: addIntervals(at, interval, count, 1) };
  const { obj, previous } = emu.store.update<Stripe.Subscription>(C.subscription, sub.id, (s) => {
    s.status = 'active';
    s.billing_cycle_anchor = at;
    for (const it of s.items.data) {
      it.current_period_start = period.start;
      it.current_period_end = period.end;
    }
  });
  emit(emu, 'customer.subscription.updated', obj, previous);
  emit(emu, 'customer.subscription.resumed', obj);
  invoiceSubscription(emu, obj, 'subscription_update', licensedLines(emu, obj, period), {
    start: at,
    end: at,
  });
  return obj;
}

export function pauseSubscription(emu: Emulator, sub: Stripe.Subscription): Stripe.Subscription {
  if (sub.status === 'canceled' || sub.status === 'paused') {
    throw invalidRequest(`Cannot pause a subscription with status ${sub.status}.`);
  }
  const { obj, previous } = emu.store.update<Stripe.Subscription>(C.subscription, sub.id, (s) => {
    s.status = 'paused';
  });
  emit(emu, 'customer.subscription.updated', obj, previous);
  emit(emu, 'customer.subscription.paused', obj);
  return obj;
}
