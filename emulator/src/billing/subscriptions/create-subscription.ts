/**
 * Creating a subscription (https://docs.stripe.com/billing/subscriptions/overview): trials
 * (https://docs.stripe.com/billing/subscriptions/trials), a future billing cycle anchor, `payment_behavior`, and
 * the first invoice.
 */
import type Stripe from 'stripe';
import { invalidRequest } from '../../core/errors';
import { billingConfig } from '../config/config';
import { type Emulator, emit, id, idOf, now } from '../context';
import type { LineSpec } from '../invoices/invoice-objects';
import { finalizeInvoice } from '../invoices/invoices';
import { addIntervals, computeProration } from '../math';
import { newSetupIntent } from '../payments/payments';
import { isMetered, priceAmount, recurringOf } from '../pricing';
import { buildItem, buildSubscription } from './subscription-objects';
import { COLLECTIONS } from '../../core/collections';
import {
  ItemInput,
  PaymentBehavior,
  ProrationBehavior,
  saveSubscription,
  subscriptionState,
} from './subscription-state';
import { day, licensedLines, quantityName } from './subscription-lines';
import { assertChargeable, invoiceSubscription } from './subscription-invoicing';
import { activate } from './subscription-status';
import { type SaveDefaultPaymentMethod, setSaveDefaultPaymentMethod } from './save-default-payment-method';
import { sendTrialWillEnd } from './subscription-lifecycle';

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
  saveSubscription(emulator, subscription);
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
  saveSubscription(emulator, subscription);
  // A trial shorter than the notice period: `trial_will_end` goes out right away.
  if (trialing && trialEnd !== null && trialEnd - billingConfig(emulator).trialWillEndSeconds <= at) {
    sendTrialWillEnd(emulator, subscription);
  }
  return subscription;
}
