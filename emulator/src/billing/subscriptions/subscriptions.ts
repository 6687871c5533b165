/**
 * The subscription engine: create, update (prorations), cancel, and the transitions time brings
 * (trial end, renewal, cancel at period end, incomplete expiry). Behaviour follows
 * https://docs.stripe.com/billing/subscriptions/overview (statuses, payment_behavior),
 * https://docs.stripe.com/billing/subscriptions/prorations (credit + debit per second) and
 * https://docs.stripe.com/billing/subscriptions/trials (trial end, missing payment method).
 */
import type Stripe from 'stripe';
import { cardError, invalidRequest } from '../../core/errors';
import { previousAttributes } from '../../core/store';
import { billingConfig } from '../config/config';
import { type Emulator, emit, id, idOf, now } from '../context';
import { onInvoice } from '../hooks';
import { createInvoiceItem } from '../invoices/invoice-item-objects';
import type { LineSpec } from '../invoices/invoice-objects';
import { money, productName } from '../invoices/line-text';
import { meteredLine } from '../invoices/metered-lines';
import {
  advanceInvoice,
  createInvoice,
  customerIdOf,
  pendingItems,
  finalizeInvoice,
  paymentMethodThatPaid,
  subscriptionIdOfInvoice,
  voidInvoice,
} from '../invoices/invoices';
import { addIntervals, computeProration, nextRetryAt, periodContaining } from '../math';
import { cardOutcome } from '../payments/cards';
import { newSetupIntent } from '../payments/payments';
import { isMetered, priceAmount, recurringOf, unitAmount } from '../pricing';
import { buildItem, buildSubscription, planOf, subscriptionPeriod } from './subscription-objects';
import { COLLECTIONS } from '../../core/collections';

/** Private engine state per subscription. */
export interface SubscriptionState {
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

export function requireSubscription(emulator: Emulator, subscriptionId: string): Stripe.Subscription {
  return emulator.store.require<Stripe.Subscription>(
    COLLECTIONS.subscription,
    subscriptionId,
    'subscription',
  );
}

export function subscriptionState(emulator: Emulator, subscriptionId: string): SubscriptionState {
  const s = emulator.store.get<SubscriptionState>(COLLECTIONS.subscriptionState, subscriptionId);
  if (s) return s;
  const fresh: SubscriptionState = { id: subscriptionId, trialWillEndSent: false, incompleteExpiresAt: null };
  emulator.store.put(COLLECTIONS.subscriptionState, fresh);
  return fresh;
}

export function saveSub(emulator: Emulator, subscription: Stripe.Subscription): void {
  subscription.items.has_more = false;
  emulator.store.put(COLLECTIONS.subscription, subscription);
}

/** Stripe's proration wording: "Unused time on Pro after …", "Remaining time on 2 × Pro after …". */
function quantityName(emulator: Emulator, price: Stripe.Price, quantity: number): string {
  return quantity > 1 ? `${quantity} × ${productName(emulator, price)}` : productName(emulator, price);
}

function day(ts: number): string {
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
    .map((item) => ({
      amount: priceAmount(item.price, itemQuantity(item)),
      currency: item.price.currency,
      description: licensedDescription(emulator, item.price, itemQuantity(item)),
      period,
      price: item.price,
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
        price: item.price,
        customerId,
        period: { start, end: period.end },
        subscription: subscription.id,
        subscriptionItem: item.id,
      });
    });
}

function meteredSince(emulator: Emulator, item: Stripe.SubscriptionItem): number {
  return (
    emulator.store.get<{ id: string; since: number }>(COLLECTIONS.meteredItemSince, item.id)?.since ??
    item.created
  );
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

function customerOfSub(emulator: Emulator, subscription: Stripe.Subscription): Stripe.Customer {
  return emulator.store.require<Stripe.Customer>(
    COLLECTIONS.customer,
    customerIdOf(subscription),
    'customer',
  );
}

export function subscriptionPaymentMethod(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  override?: string | null,
): string | null {
  const own = override !== undefined ? override : idOf(subscription.default_payment_method);
  if (own) return own;
  const c = emulator.store.get<Stripe.Customer>(COLLECTIONS.customer, customerIdOf(subscription));
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
  emulator: Emulator,
  subscription: Stripe.Subscription,
  reason: Stripe.Invoice.BillingReason,
  lines: LineSpec[],
  window: { start: number; end: number },
  collection: InvoiceCollection = { pay: true },
): { invoice: Stripe.Invoice; ok: boolean } {
  const customer = customerOfSub(emulator, subscription);
  const created = now(emulator, customer.id);
  const autoAdvance = collection.autoAdvance ?? true;
  const grace = billingConfig(emulator).finalizationGraceSeconds;
  const waitsForGrace = collection.afterGrace === true && autoAdvance && grace > 0;
  const invoice = createInvoice(
    emulator,
    {
      customer,
      subscription,
      billingReason: reason,
      currency: subscription.currency,
      created,
      periodStart: window.start,
      periodEnd: window.end,
      collectionMethod: subscription.collection_method,
      daysUntilDue: subscription.days_until_due,
      defaultPaymentMethod: null,
      description: null,
      metadata: {},
      autoAdvance,
      automaticallyFinalizesAt: waitsForGrace ? created + grace : null,
    },
    lines,
    { subscription: subscription.id },
  );
  subscription.latest_invoice = invoice.id;
  saveSub(emulator, subscription);
  const collectNow = collection.pay || (collection.afterGrace === true && autoAdvance && grace === 0);
  if (!collectNow) return { invoice, ok: false };
  const r = advanceInvoice(emulator, invoice);
  return { invoice: r.invoice, ok: r.ok };
}

/** 402 (or 400 without a payment method) when charging `paymentMethod` would fail. */
function assertChargeable(emulator: Emulator, paymentMethod: string | null): void {
  if (!paymentMethod) {
    throw invalidRequest(
      'This customer has no attached payment source or default payment method. Please consider adding a default payment method.',
    );
  }
  const o = cardOutcome(emulator, paymentMethod);
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

export function createSubscription(emulator: Emulator, args: CreateArgs): Stripe.Subscription {
  const customer = args.customer;
  if (args.items.length === 0)
    throw invalidRequest('Missing required param: items.', 'items', 'parameter_missing');
  const currency = args.items[0].price.currency;
  args.items.forEach((item, i) => {
    if (!item.price.recurring) {
      throw invalidRequest(
        `The price specified is set to \`type=one_time\` but this field only accepts prices with \`type=recurring\`.`,
        `items[${i}][price]`,
      );
    }
    if (item.price.currency !== currency) {
      throw invalidRequest('All prices on a subscription must have the same currency.', `items[${i}][price]`);
    }
  });
  const at = now(emulator, customer.id);
  let trialEnd = args.trialEnd;
  if (trialEnd === null && args.trialFromPlan) {
    const days = args.items[0].price.recurring?.trial_period_days ?? null;
    if (days) trialEnd = at + days * 86_400;
  }
  if (trialEnd !== null && trialEnd <= at) trialEnd = null; // trial_end=now: no trial
  const trialing = trialEnd !== null;
  const paymentMethod = args.defaultPaymentMethod;
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
      emulator,
      paymentMethod ??
        idOf(customer.invoice_settings?.default_payment_method ?? null) ??
        idOf(customer.default_source ?? null),
    );
  }

  const subscriptionId = id('sub');
  const subscription = buildSubscription({
    id: subscriptionId,
    customer: customer.id,
    currency,
    created: at,
    anchor,
    status: trialing ? 'trialing' : 'incomplete',
    trialStart: trialing ? at : null,
    trialEnd,
    missingPaymentMethod: args.missingPaymentMethod,
    defaultPaymentMethod: paymentMethod,
    collectionMethod: args.collectionMethod,
    daysUntilDue: args.collectionMethod === 'send_invoice' ? (args.daysUntilDue ?? 30) : null,
    cancelAt: args.cancelAt === 'period_end' ? periodEnd : args.cancelAt,
    cancelAtPeriodEnd: args.cancelAtPeriodEnd,
    description: args.description,
    metadata: args.metadata,
    testClock: idOf(customer.test_clock),
  });
  setSaveDefaultPaymentMethod(subscription, args.saveDefaultPaymentMethod ?? 'off');
  for (const item of args.items) {
    subscription.items.data.push(
      buildItem({
        subscription: subscriptionId,
        price: item.price,
        quantity: isMetered(item.price) ? undefined : (item.quantity ?? 1),
        created: at,
        periodStart,
        periodEnd,
        metadata: item.metadata,
      }),
    );
  }
  saveSub(emulator, subscription);
  const state = subscriptionState(emulator, subscriptionId);
  emit(emulator, 'customer.subscription.created', subscription);

  // First invoice: the trial's $0 invoice, or the first period (prorated up to a future anchor).
  const period = { start: at, end: periodEnd };
  let lines: LineSpec[];
  if (trialing) {
    lines = licensedLines(emulator, subscription, period).map((l) => ({
      ...l,
      amount: 0,
      description: `Trial period for ${l.description?.replace(/^\d+ × /, '').replace(/ \(.*\)$/, '') ?? ''}`,
    }));
  } else if (args.billingCycleAnchor !== null && anchor > at && args.prorationBehavior !== 'none') {
    const full = addIntervals(anchor, interval, -count, 1);
    const periodSeconds = anchor - Math.min(full, at);
    lines = licensedLines(emulator, subscription, period).map((l) => ({
      ...l,
      amount: computeProration({
        oldAmount: 0,
        newAmount: l.amount,
        periodStart: anchor - periodSeconds,
        periodEnd: anchor,
        prorationDate: at,
      }).debit,
      proration: true,
      description: `Remaining time on ${l.price ? quantityName(emulator, l.price, l.quantity ?? 1) : l.description} after ${day(at)}`,
    }));
  } else if (args.billingCycleAnchor !== null && anchor > at) {
    lines = [];
  } else {
    lines = licensedLines(emulator, subscription, period);
  }

  const pay = args.paymentBehavior !== 'default_incomplete';
  // A first invoice's items were all attached at creation: its window starts and ends there.
  const createdWindow = { start: at, end: at };
  const { invoice } = invoiceSubscription(
    emulator,
    subscription,
    'subscription_create',
    lines,
    createdWindow,
    {
      pay: pay && args.collectionMethod === 'charge_automatically',
    },
  );
  if (!pay || args.collectionMethod === 'send_invoice') {
    // default_incomplete: the invoice is finalized and waits for the client to confirm its
    // payment intent (`latest_invoice.confirmation_secret`); trials get a pending setup intent.
    if (invoice.status === 'draft') finalizeInvoice(emulator, invoice);
    if (trialing && !paymentMethod && args.paymentBehavior === 'default_incomplete') {
      const setupIntent = newSetupIntent(emulator, { customer: customer.id });
      subscription.pending_setup_intent = setupIntent.id;
    }
    if (invoice.status === 'paid' && subscription.status === 'incomplete') activate(emulator, subscription);
    if (args.collectionMethod === 'send_invoice' && !trialing) activate(emulator, subscription);
  }
  // allow_incomplete with a decline: the subscription stays incomplete with an open invoice
  // and expires after 23 hours unpaid.
  if (subscription.status === 'incomplete') {
    state.incompleteExpiresAt = at + billingConfig(emulator).incompleteExpirySeconds;
    emulator.store.put(COLLECTIONS.subscriptionState, state);
  }
  saveSub(emulator, subscription);
  // A trial shorter than the notice period: `trial_will_end` goes out right away.
  if (trialing && trialEnd !== null && trialEnd - billingConfig(emulator).trialWillEndSeconds <= at) {
    sendTrialWillEnd(emulator, subscription);
  }
  return subscription;
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
function activate(emulator: Emulator, subscription: Stripe.Subscription): void {
  if (
    subscription.status === 'active' ||
    subscription.status === 'trialing' ||
    subscription.status === 'canceled'
  )
    return;
  const { obj, previous } = emulator.store.update<Stripe.Subscription>(
    COLLECTIONS.subscription,
    subscription.id,
    (s) => {
      s.status = 'active';
    },
  );
  emit(emulator, 'customer.subscription.updated', obj, previous);
}

// Invoice outcomes drive subscription statuses.
onInvoice({
  paid: (emulator, invoice) => {
    const subscriptionId = subscriptionIdOfInvoice(invoice);
    if (!subscriptionId) return;
    const subscription = emulator.store.get<Stripe.Subscription>(COLLECTIONS.subscription, subscriptionId);
    if (!subscription) return;
    const recovers =
      subscription.status === 'past_due' ||
      subscription.status === 'unpaid' ||
      // Only when no other invoice of the subscription is still open (Stripe: latest invoice).
      (subscription.status === 'incomplete' && subscription.latest_invoice === invoice.id);
    const newDefault = paymentMethodToSave(emulator, subscription, invoice);
    if (!recovers && !newDefault) return;
    const { obj, previous } = emulator.store.update<Stripe.Subscription>(
      COLLECTIONS.subscription,
      subscription.id,
      (s) => {
        if (recovers) s.status = 'active';
        if (newDefault) s.default_payment_method = newDefault;
      },
    );
    emit(emulator, 'customer.subscription.updated', obj, previous);
  },
  paymentFailed: (emulator, invoice, finalAttempt) => {
    const subscriptionId = subscriptionIdOfInvoice(invoice);
    if (!subscriptionId) return;
    const subscription = emulator.store.get<Stripe.Subscription>(COLLECTIONS.subscription, subscriptionId);
    if (!subscription || subscription.status === 'canceled' || subscription.status === 'incomplete_expired')
      return;
    if (subscription.status === 'incomplete') return; // first invoice: stays incomplete
    if (subscription.status === 'active' || subscription.status === 'trialing') {
      const { obj, previous } = emulator.store.update<Stripe.Subscription>(
        COLLECTIONS.subscription,
        subscription.id,
        (s) => {
          s.status = 'past_due';
        },
      );
      emit(emulator, 'customer.subscription.updated', obj, previous);
    }
    if (finalAttempt && invoice.billing_reason !== 'manual') applyFinalStatus(emulator, subscription);
  },
  nextAttempt: (emulator, invoice, failedAt) => {
    const subscriptionId = subscriptionIdOfInvoice(invoice);
    if (!subscriptionId) return null;
    const subscription = emulator.store.get<Stripe.Subscription>(COLLECTIONS.subscription, subscriptionId);
    // Stripe stops automatic collection once a subscription is canceled (a draft finalized after that is tried once).
    if (
      !subscription ||
      subscription.status === 'incomplete' ||
      subscription.status === 'canceled' ||
      invoice.billing_reason === 'subscription_create'
    )
      return null;
    const config = billingConfig(emulator);
    return nextRetryAt(
      { delays: config.retrySchedule, finalStatus: config.finalStatus },
      invoice.attempt_count,
      failedAt,
    );
  },
});

/** After the last retry fails: Stripe's "manage failed payments" setting. */
function applyFinalStatus(emulator: Emulator, subscription: Stripe.Subscription): void {
  const final = billingConfig(emulator).finalStatus;
  if (final === 'canceled') {
    cancelNow(emulator, subscription, { invoiceNow: false, prorate: false, reason: 'payment_failed' });
  } else if (final === 'unpaid') {
    if (subscription.status === 'unpaid') return;
    const { obj, previous } = emulator.store.update<Stripe.Subscription>(
      COLLECTIONS.subscription,
      subscription.id,
      (s) => {
        s.status = 'unpaid';
      },
    );
    emit(emulator, 'customer.subscription.updated', obj, previous);
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
          description: `Unused time on ${quantityName(emulator, p.oldPrice, p.oldQuantity)} after ${day(date)}`,
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
          description: `Remaining time on ${quantityName(emulator, p.newPrice, p.newQuantity)} after ${day(date)}`,
          price: p.newPrice,
          quantity: p.newQuantity,
        });
      }
    }
  }
  return out;
}

function recordProrationItems(
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
  if (subscription.status === 'canceled' || subscription.status === 'incomplete_expired') {
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
  const before = structuredClone(subscription);
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
  // A reset billing cycle credits the unused time of every licensed item of the old period.
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
  if (subscription.schedule && (args.cancelAtPeriodEnd !== undefined || args.cancelAt !== undefined)) {
    throw invalidRequest(
      `The subscription is managed by the subscription schedule \`${idOf(subscription.schedule)}\`, and updating any cancelation behavior directly is not allowed. Please update the schedule instead.`,
    );
  }
  if (
    args.paymentBehavior === 'error_if_incomplete' &&
    subscription.collection_method === 'charge_automatically'
  ) {
    // A charge that would decline fails the whole update (402) and changes nothing.
    const pending = pendingItems(emulator, customerId, { subscription: subscription.id }).reduce(
      (t, invoiceItem) => t + invoiceItem.amount,
      0,
    );
    let dueNow = 0;
    if (resetAnchor && subscription.status !== 'trialing') {
      const next = { start: at, end: addIntervals(at, newInterval.interval, newInterval.count, 1) };
      const fresh = licensedLines(
        emulator,
        { ...subscription, items: { ...subscription.items, data: items } },
        next,
      );
      dueNow = [...resetCredits, ...fresh].reduce((t, l) => t + l.amount, 0) + pending;
    } else if (args.prorationBehavior === 'always_invoice' && lines.length > 0) {
      dueNow = lines.reduce((t, l) => t + l.amount, 0) + pending;
    }
    if (dueNow > 0)
      assertChargeable(
        emulator,
        subscriptionPaymentMethod(emulator, subscription, args.defaultPaymentMethod),
      );
  }

  subscription.items.data = items;
  if (args.metadata) subscription.metadata = args.metadata;
  if (args.description !== undefined) subscription.description = args.description;
  if (args.defaultPaymentMethod !== undefined)
    subscription.default_payment_method = args.defaultPaymentMethod;
  if (args.pauseCollection !== undefined) subscription.pause_collection = args.pauseCollection;
  if (args.saveDefaultPaymentMethod) setSaveDefaultPaymentMethod(subscription, args.saveDefaultPaymentMethod);
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

  let invoiceNow = false;
  let newPeriod: { start: number; end: number } | null = null;
  if (args.trialEnd !== undefined) {
    const end = args.trialEnd === 'now' ? at : args.trialEnd;
    if (end <= at) {
      // Ending the trial now: active, new period from now, invoiced at once.
      if (subscription.status === 'trialing') {
        subscription.status = 'active';
        subscription.trial_end = at;
        newPeriod = { start: at, end: addIntervals(at, newInterval.interval, newInterval.count, 1) };
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
  } else if (resetAnchor && subscription.status !== 'trialing') {
    newPeriod = { start: at, end: addIntervals(at, newInterval.interval, newInterval.count, 1) };
    subscription.billing_cycle_anchor = at;
    invoiceNow = true;
  }
  if (newPeriod) {
    for (const item of subscription.items.data) {
      item.current_period_start = newPeriod.start;
      item.current_period_end = newPeriod.end;
    }
  }
  saveSub(emulator, subscription);
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
    recordProrationItems(emulator, subscription, resetCredits);
    const fresh = licensedLines(emulator, subscription, newPeriod);
    invoiceSubscription(emulator, subscription, 'subscription_update', fresh, { start: at, end: at });
  } else if (lines.length > 0 || usageItems.length > 0) {
    recordProrationItems(emulator, subscription, lines);
    if (args.prorationBehavior === 'always_invoice') {
      invoiceSubscription(emulator, subscription, 'subscription_update', [], { start: at, end: at });
    }
  }
  return subscription;
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
    emulator.store.delete(COLLECTIONS.invoiceItem, item.id);
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
  emulator: Emulator,
  subscription: Stripe.Subscription,
  options: {
    invoiceNow: boolean;
    prorate: boolean;
    reason: Stripe.Subscription.CancellationDetails.Reason | null;
    dropPendingProrations?: boolean;
  },
): Stripe.Subscription {
  if (subscription.status === 'canceled') {
    throw invalidRequest(`No such subscription: '${subscription.id}'`, 'id', 'resource_missing');
  }
  const at = now(emulator, customerIdOf(subscription));
  const period = subscriptionPeriod(subscription);
  if (options.prorate && subscription.status === 'active') {
    const planned = subscription.items.data
      .filter((item) => !isMetered(item.price))
      .map((item) => ({
        item,
        oldPrice: item.price,
        oldQuantity: itemQuantity(item),
        newPrice: null,
        newQuantity: 0,
      }));
    recordProrationItems(emulator, subscription, prorationLines(emulator, subscription, planned, at));
  }
  if (options.dropPendingProrations && !options.invoiceNow && !options.prorate)
    removePendingProrations(emulator, subscription);
  if (options.invoiceNow) {
    const metered = meteredLines(emulator, subscription, { start: period.start, end: at }).filter(
      (l) => l.amount !== 0,
    );
    invoiceSubscription(emulator, subscription, 'subscription_cycle', metered, {
      start: period.start,
      end: at,
    });
  }
  // Stripe stops automatic collection of the subscription's open invoices.
  for (const invoice of emulator.store.all<Stripe.Invoice>(COLLECTIONS.invoice)) {
    if (
      subscriptionIdOfInvoice(invoice) === subscription.id &&
      invoice.status === 'open' &&
      invoice.next_payment_attempt !== null
    ) {
      invoice.next_payment_attempt = null;
      invoice.auto_advance = false;
      emulator.store.put(COLLECTIONS.invoice, invoice);
    }
    if (
      subscriptionIdOfInvoice(invoice) === subscription.id &&
      invoice.status === 'open' &&
      subscription.status === 'incomplete'
    ) {
      voidInvoice(emulator, invoice);
    }
  }
  const { obj } = emulator.store.update<Stripe.Subscription>(
    COLLECTIONS.subscription,
    subscription.id,
    (s) => {
      s.status = 'canceled';
      s.canceled_at = s.canceled_at ?? at;
      s.ended_at = at;
      if (options.reason)
        s.cancellation_details = {
          ...(s.cancellation_details ?? { comment: null, feedback: null, feedback_option: null }),
          reason: options.reason,
        };
    },
  );
  emit(emulator, 'customer.subscription.deleted', obj);
  return obj;
}

// ---------------------------------------------------------------------------------------------
// What time brings

/** trialing → active (or per `missing_payment_method`), with the first `subscription_cycle` invoice. */
export function endTrial(emulator: Emulator, subscription: Stripe.Subscription): void {
  const at = subscription.trial_end ?? now(emulator, customerIdOf(subscription));
  const behavior = subscription.trial_settings?.end_behavior.missing_payment_method ?? 'create_invoice';
  const paymentMethod = subscriptionPaymentMethod(emulator, subscription);
  if (!paymentMethod && behavior === 'cancel') {
    cancelNow(emulator, subscription, { invoiceNow: false, prorate: false, reason: null });
    return;
  }
  if (!paymentMethod && behavior === 'pause') {
    const { obj, previous } = emulator.store.update<Stripe.Subscription>(
      COLLECTIONS.subscription,
      subscription.id,
      (s) => {
        s.status = 'paused';
      },
    );
    emit(emulator, 'customer.subscription.updated', obj, previous);
    emit(emulator, 'customer.subscription.paused', obj);
    return;
  }
  const { interval, count } = recurringOf(subscription.items.data[0].price);
  const period = { start: at, end: addIntervals(subscription.billing_cycle_anchor, interval, count, 1) };
  const { obj, previous } = emulator.store.update<Stripe.Subscription>(
    COLLECTIONS.subscription,
    subscription.id,
    (s) => {
      s.status = 'active';
      for (const item of s.items.data) {
        item.current_period_start = period.start;
        item.current_period_end = period.end;
      }
    },
  );
  emit(emulator, 'customer.subscription.updated', obj, previous);
  // The trial-end invoice looks back over the trial (its window); it bills the new period's licensed items and no
  // usage of the trial ("any usage accrued doesn't count toward the total charged to the customer",
  // https://docs.stripe.com/billing/subscriptions/trials), then finalizes after the grace period.
  const trialWindow = { start: subscription.trial_start ?? subscription.created, end: at };
  invoiceSubscription(
    emulator,
    obj,
    'subscription_cycle',
    licensedLines(emulator, obj, period),
    trialWindow,
    {
      pay: false,
      afterGrace: true,
    },
  );
}

/**
 * The period end: one `subscription_cycle` invoice with licensed items for the new period and
 * metered items for the elapsed one; or the end of a subscription set to cancel.
 */
export function renew(emulator: Emulator, subscription: Stripe.Subscription): void {
  const old = subscriptionPeriod(subscription);
  if (subscription.cancel_at !== null && subscription.cancel_at <= old.end) {
    const at = subscription.cancel_at;
    const metered = meteredLines(emulator, subscription, { start: old.start, end: at }).filter(
      (l) => l.amount !== 0,
    );
    const pending = emulator.store
      .all<Stripe.InvoiceItem>(COLLECTIONS.invoiceItem)
      .some(
        (invoiceItem) =>
          invoiceItem.invoice === null &&
          invoiceItem.parent?.subscription_details?.subscription === subscription.id,
      );
    if (metered.length > 0 || pending) {
      invoiceSubscription(
        emulator,
        subscription,
        'subscription_cycle',
        metered,
        { start: old.start, end: at },
        {
          pay: false,
          afterGrace: true,
        },
      );
    }
    cancelNow(emulator, subscription, {
      invoiceNow: false,
      prorate: false,
      reason: subscription.cancellation_details?.reason ?? 'cancellation_requested',
    });
    return;
  }
  const { interval, count } = recurringOf(subscription.items.data[0].price);
  const next = periodContaining(subscription.billing_cycle_anchor, interval, count, old.end);
  const newPeriod = {
    start: old.end,
    end: next.end > old.end ? next.end : addIntervals(old.end, interval, count, 1),
  };
  const metered = meteredLines(emulator, subscription, old);
  const { obj, previous } = emulator.store.update<Stripe.Subscription>(
    COLLECTIONS.subscription,
    subscription.id,
    (s) => {
      for (const item of s.items.data) {
        item.current_period_start = newPeriod.start;
        item.current_period_end = newPeriod.end;
      }
    },
  );
  emit(emulator, 'customer.subscription.updated', obj, previous);
  const lines = [...licensedLines(emulator, obj, newPeriod), ...metered];
  // An unpaid subscription keeps generating invoices, left as drafts (Stripe: no collection). Otherwise the
  // draft waits out the grace period, in which late usage of the elapsed period still counts. Its window looks
  // back one period (the service periods are on the lines).
  const unpaid = obj.status === 'unpaid';
  invoiceSubscription(emulator, obj, 'subscription_cycle', lines, old, {
    pay: false,
    autoAdvance: !unpaid,
    afterGrace: true,
  });
}

export function sendTrialWillEnd(emulator: Emulator, subscription: Stripe.Subscription): void {
  const st = subscriptionState(emulator, subscription.id);
  st.trialWillEndSent = true;
  emulator.store.put(COLLECTIONS.subscriptionState, st);
  emit(emulator, 'customer.subscription.trial_will_end', subscription);
}

export function expireIncomplete(emulator: Emulator, subscription: Stripe.Subscription): void {
  for (const invoice of emulator.store.all<Stripe.Invoice>(COLLECTIONS.invoice)) {
    if (subscriptionIdOfInvoice(invoice) === subscription.id && invoice.status === 'open')
      voidInvoice(emulator, invoice);
  }
  const at = now(emulator, customerIdOf(subscription));
  const { obj, previous } = emulator.store.update<Stripe.Subscription>(
    COLLECTIONS.subscription,
    subscription.id,
    (s) => {
      s.status = 'incomplete_expired';
      s.ended_at = at;
    },
  );
  const st = subscriptionState(emulator, subscription.id);
  st.incompleteExpiresAt = null;
  emulator.store.put(COLLECTIONS.subscriptionState, st);
  emit(emulator, 'customer.subscription.updated', obj, previous);
}

/** paused → active (`/resume`): a new period from now, invoiced at once. */
export function resumeSubscription(
  emulator: Emulator,
  subscription: Stripe.Subscription,
): Stripe.Subscription {
  if (subscription.status !== 'paused') {
    throw invalidRequest('Only a paused subscription can be resumed.', undefined, 'subscription_not_paused');
  }
  const at = now(emulator, customerIdOf(subscription));
  const { interval, count } = recurringOf(subscription.items.data[0].price);
  const period = { start: at, end: addIntervals(at, interval, count, 1) };
  const { obj, previous } = emulator.store.update<Stripe.Subscription>(
    COLLECTIONS.subscription,
    subscription.id,
    (s) => {
      s.status = 'active';
      s.billing_cycle_anchor = at;
      for (const item of s.items.data) {
        item.current_period_start = period.start;
        item.current_period_end = period.end;
      }
    },
  );
  emit(emulator, 'customer.subscription.updated', obj, previous);
  emit(emulator, 'customer.subscription.resumed', obj);
  invoiceSubscription(emulator, obj, 'subscription_update', licensedLines(emulator, obj, period), {
    start: at,
    end: at,
  });
  return obj;
}

export function pauseSubscription(
  emulator: Emulator,
  subscription: Stripe.Subscription,
): Stripe.Subscription {
  if (subscription.status === 'canceled' || subscription.status === 'paused') {
    throw invalidRequest(`Cannot pause a subscription with status ${subscription.status}.`);
  }
  const { obj, previous } = emulator.store.update<Stripe.Subscription>(
    COLLECTIONS.subscription,
    subscription.id,
    (s) => {
      s.status = 'paused';
    },
  );
  emit(emulator, 'customer.subscription.updated', obj, previous);
  emit(emulator, 'customer.subscription.paused', obj);
  return obj;
}
