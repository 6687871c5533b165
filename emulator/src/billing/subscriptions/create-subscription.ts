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
import { setSubscriptionAutomaticTax, setSubscriptionTaxRates } from '../tax/subscription-tax';
import { fixCustomerCurrency, subscriptionCurrency } from '../currency/subscription-currency';
import { priceInCurrency } from '../../resources/price-currency-options';
import type { DiscountRequest } from '../discounts/redeem';
import { setSubscriptionDiscounts } from '../discounts/subscription-discounts';

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
  /** `automatic_tax[enabled]`. */
  automaticTax?: boolean;
  /** `default_tax_rates[]`, resolved. */
  defaultTaxRates?: Stripe.TaxRate[];
  /** `currency`: one the prices have or offer in `currency_options`. */
  currency?: string;
  /** `discounts`, already checked (see `discounts/redeem.ts`). */
  discounts?: DiscountRequest[];
}

export function createSubscription(emulator: Emulator, args: CreateArgs): Stripe.Subscription {
  checkItems(args.items);
  const currency = subscriptionCurrency(
    emulator,
    args.customer,
    args.items.map((item) => item.price),
    args.currency,
  );
  const at = now(emulator, args.customer.id);
  const trialEnd = trialEndOf(args, at);
  const trialing = trialEnd !== null;
  const period = firstPeriod(args, trialEnd, at);
  refuseUnpayableStart(emulator, args, trialing, currency);

  const subscription = newSubscription(args, { currency, at, trialEnd, period });
  if (args.discounts) setSubscriptionDiscounts(emulator, subscription, args.discounts);
  saveSubscription(emulator, subscription);
  fixCustomerCurrency(emulator, args.customer.id, currency);
  const state = subscriptionState(emulator, subscription.id);
  emit(emulator, 'customer.subscription.created', subscription);

  collectFirstInvoice(
    emulator,
    subscription,
    args,
    firstInvoiceLines(emulator, subscription, args, at, period),
  );
  // allow_incomplete with a decline: the subscription stays incomplete with an open invoice
  // and expires after 23 hours unpaid.
  if (subscription.status === 'incomplete') {
    state.incompleteExpiresAt = at + billingConfig(emulator).incompleteExpirySeconds;
    emulator.store.put(COLLECTIONS.subscriptionState, state);
  }
  saveSubscription(emulator, subscription);
  // A trial shorter than the notice period: `trial_will_end` goes out right away.
  if (trialing && trialEnd - billingConfig(emulator).trialWillEndSeconds <= at) {
    sendTrialWillEnd(emulator, subscription);
  }
  return subscription;
}

/** Every item needs a recurring price (in the subscription's currency: `subscriptionCurrency`). */
function checkItems(items: ItemInput[]): void {
  if (items.length === 0)
    throw invalidRequest('Missing required param: items.', 'items', 'parameter_missing');
  items.forEach((item, i) => {
    if (!item.price.recurring) {
      throw invalidRequest(
        `The price specified is set to \`type=one_time\` but this field only accepts prices with \`type=recurring\`.`,
        `items[${i}][price]`,
      );
    }
  });
}

/** `trial_end`, or the first price's `trial_period_days` with `trial_from_plan`; `trial_end=now` is no trial. */
function trialEndOf(args: CreateArgs, at: number): number | null {
  let trialEnd = args.trialEnd;
  if (trialEnd === null && args.trialFromPlan) {
    const days = args.items[0].price.recurring?.trial_period_days ?? null;
    if (days) trialEnd = at + days * 86_400;
  }
  return trialEnd !== null && trialEnd <= at ? null : trialEnd;
}

interface FirstPeriod {
  anchor: number;
  periodStart: number;
  periodEnd: number;
}

/**
 * The first period: a trial runs to trial_end (which becomes the anchor); a future
 * billing_cycle_anchor gives a prorated first period up to it; otherwise a full period.
 */
function firstPeriod(args: CreateArgs, trialEnd: number | null, at: number): FirstPeriod {
  const { interval, count } = recurringOf(args.items[0].price);
  let anchor = trialEnd ?? args.billingCycleAnchor ?? at;
  let periodStart = at;
  let periodEnd: number;
  if (trialEnd !== null) periodEnd = trialEnd;
  else if (anchor > at) periodEnd = anchor;
  else {
    anchor = at;
    periodEnd = addIntervals(anchor, interval, count, 1);
  }
  if (trialEnd === null && args.billingCycleAnchor === null) periodStart = anchor;
  return { anchor, periodStart, periodEnd };
}

/** error_if_incomplete: a payment that would fail creates nothing (402, as Stripe). */
function refuseUnpayableStart(
  emulator: Emulator,
  args: CreateArgs,
  trialing: boolean,
  currency: string,
): void {
  if (args.paymentBehavior !== 'error_if_incomplete' || args.collectionMethod !== 'charge_automatically')
    return;
  const firstAmount = trialing
    ? 0
    : args.items
        .filter((item) => !isMetered(item.price))
        .reduce(
          (sum, item) => sum + priceAmount(priceInCurrency(item.price, currency), item.quantity ?? 1),
          0,
        );
  if (firstAmount <= 0) return;
  const customer = args.customer;
  assertChargeable(
    emulator,
    args.defaultPaymentMethod ??
      idOf(customer.invoice_settings?.default_payment_method ?? null) ??
      idOf(customer.default_source ?? null),
  );
}

interface NewSubscriptionFacts {
  currency: string;
  at: number;
  trialEnd: number | null;
  period: FirstPeriod;
}

function newSubscription(args: CreateArgs, facts: NewSubscriptionFacts): Stripe.Subscription {
  const { currency, at, trialEnd, period } = facts;
  const trialing = trialEnd !== null;
  const subscriptionId = id('sub');
  const subscription = buildSubscription({
    id: subscriptionId,
    customer: args.customer.id,
    currency,
    created: at,
    anchor: period.anchor,
    status: trialing ? 'trialing' : 'incomplete',
    trialStart: trialing ? at : null,
    trialEnd,
    missingPaymentMethod: args.missingPaymentMethod,
    defaultPaymentMethod: args.defaultPaymentMethod,
    collectionMethod: args.collectionMethod,
    daysUntilDue: args.collectionMethod === 'send_invoice' ? (args.daysUntilDue ?? 30) : null,
    cancelAt: args.cancelAt === 'period_end' ? period.periodEnd : args.cancelAt,
    cancelAtPeriodEnd: args.cancelAtPeriodEnd,
    description: args.description,
    metadata: args.metadata,
    testClock: idOf(args.customer.test_clock),
  });
  setSaveDefaultPaymentMethod(subscription, args.saveDefaultPaymentMethod ?? 'off');
  setSubscriptionAutomaticTax(subscription, args.automaticTax);
  setSubscriptionTaxRates(subscription, args.defaultTaxRates);
  for (const item of args.items) {
    subscription.items.data.push(
      buildItem({
        subscription: subscriptionId,
        price: item.price,
        quantity: isMetered(item.price) ? undefined : (item.quantity ?? 1),
        created: at,
        periodStart: period.periodStart,
        periodEnd: period.periodEnd,
        metadata: item.metadata,
      }),
    );
  }
  return subscription;
}

/** First invoice: the trial's $0 invoice, or the first period (prorated up to a future anchor). */
function firstInvoiceLines(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  args: CreateArgs,
  at: number,
  { anchor, periodEnd }: FirstPeriod,
): LineSpec[] {
  const period = { start: at, end: periodEnd };
  if (subscription.status === 'trialing') {
    return licensedLines(emulator, subscription, period).map((line) => ({
      ...line,
      amount: 0,
      description: `Trial period for ${line.description?.replace(/^\d+ × /, '').replace(/ \(.*\)$/, '') ?? ''}`,
    }));
  }
  const futureAnchor = args.billingCycleAnchor !== null && anchor > at;
  if (!futureAnchor) return licensedLines(emulator, subscription, period);
  if (args.prorationBehavior === 'none') return [];
  const { interval, count } = recurringOf(args.items[0].price);
  const full = addIntervals(anchor, interval, -count, 1);
  const periodSeconds = anchor - Math.min(full, at);
  return licensedLines(emulator, subscription, period).map((line) => ({
    ...line,
    amount: computeProration({
      oldAmount: 0,
      newAmount: line.amount,
      periodStart: anchor - periodSeconds,
      periodEnd: anchor,
      prorationDate: at,
    }).debit,
    proration: true,
    description: `Remaining time on ${line.price ? quantityName(emulator, line.price, line.quantity ?? 1) : line.description} after ${day(at)}`,
  }));
}

/**
 * Invoices the first lines and collects them per `payment_behavior`. default_incomplete: the invoice is finalized
 * and waits for the client to confirm its payment intent (`latest_invoice.confirmation_secret`); trials get a
 * pending setup intent.
 */
function collectFirstInvoice(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  args: CreateArgs,
  lines: LineSpec[],
): void {
  const at = subscription.created;
  const trialing = subscription.status === 'trialing';
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
  if (pay && args.collectionMethod !== 'send_invoice') return;
  if (invoice.status === 'draft') finalizeInvoice(emulator, invoice);
  if (trialing && !args.defaultPaymentMethod && args.paymentBehavior === 'default_incomplete') {
    const setupIntent = newSetupIntent(emulator, { customer: args.customer.id });
    subscription.pending_setup_intent = setupIntent.id;
  }
  if (invoice.status === 'paid' && subscription.status === 'incomplete') activate(emulator, subscription);
  if (args.collectionMethod === 'send_invoice' && !trialing) activate(emulator, subscription);
}
