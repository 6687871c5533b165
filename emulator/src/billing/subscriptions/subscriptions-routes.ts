/**
 * `/v1/subscriptions` and `/v1/subscription_items`: parameter parsing and responses; the
 * behaviour lives in `subscriptions.ts`.
 */
import { ACCEPTED } from '../accepted-params';
import type Stripe from 'stripe';
import { invalidRequest, notFound } from '../../core/errors';
import type { ApiRequest, Route } from '../../core/http';
import { paginate } from '../../core/list';
import type { ParamReader } from '../../core/params';
import { search } from '../../core/search';
import { requireCustomer, requirePrice } from '../../resources/common';
import { resolvePaymentMethod } from '../../resources/payment-methods';
import { createPrice } from '../../resources/prices';
import { type Emulator, idOf, now } from '../context';
import { customerIdOf } from '../invoices/invoices';
import { cancelNow, pauseSubscription, resumeSubscription } from './subscription-lifecycle';
import { createSubscription } from './create-subscription';
import type { SaveDefaultPaymentMethod } from './save-default-payment-method';
import { type ItemChange, updateSubscription } from './update-subscription';
import { refuseOutsidePendingItemUpdate, refuseOutsidePendingUpdate } from './pending-update';
import {
  type ItemInput,
  type PaymentBehavior,
  type ProrationBehavior,
  requireSubscription,
} from './subscription-state';
import { isMetered, refuseMeteredQuantity } from '../pricing';
import { learnOrigin } from '../urls';
import { COLLECTIONS } from '../../core/collections';
import { readAutomaticTax, readDefaultTaxRates, refuseMixedTax } from '../tax/subscription-tax';
import { refuseOtherCurrency, subscriptionCurrency } from '../currency/subscription-currency';
import { readSubscriptionDiscounts, recurringAmount } from '../discounts/subscription-discounts';

const PAYMENT_BEHAVIORS = [
  'allow_incomplete',
  'default_incomplete',
  'error_if_incomplete',
  'pending_if_incomplete',
] as const;
const PRORATION = ['create_prorations', 'always_invoice', 'none'] as const;

function readPrice(emulator: Emulator, input: ParamReader): Stripe.Price {
  const priceData = input.obj('price_data');
  if (priceData) return createPrice(emulator, priceData, { inline: true });
  const priceId = input.str('price') ?? input.str('plan');
  if (!priceId)
    throw invalidRequest(
      `Missing required param: ${input.name('price')}.`,
      input.name('price'),
      'parameter_missing',
    );
  return requirePrice(emulator, priceId, input.name('price'));
}

function readTimestampOrNow(input: ParamReader, key: string): number | 'now' | undefined {
  return input.intOr(key, ['now'] as const);
}

/**
 * Update's `billing_cycle_anchor`: the SDK (endive) sends `billing_cycle_anchor[type]=now`; older
 * clients and the CLI send the bare string. Both are accepted.
 */
function readAnchorChoice(input: ParamReader): 'now' | 'unchanged' | null {
  const choices = ['now', 'unchanged'] as const;
  const hash = input.raw.billing_cycle_anchor;
  if (hash !== undefined && typeof hash !== 'string')
    return input.obj('billing_cycle_anchor')?.oneOf('type', choices) ?? null;
  return input.oneOf('billing_cycle_anchor', choices) ?? null;
}

/**
 * `cancel_at`: a timestamp, `''` to clear, or (since 2025) `max_period_end` / `min_period_end` /
 * `max_billed_until`, which all mean the current period's end here (one period per subscription).
 */
function readCancelAt(input: ParamReader): number | 'period_end' | null | undefined {
  const v = input.str('cancel_at');
  if (v === undefined) return undefined;
  if (v === '') return null;
  if (v === 'max_period_end' || v === 'min_period_end' || v === 'max_billed_until') return 'period_end';
  return input.int('cancel_at');
}

/** A `pm_card_*` test id or an existing pm; test ids become a new pm attached to the customer. */
function readPaymentMethod(
  emulator: Emulator,
  input: ParamReader,
  customerId: string,
): string | null | undefined {
  const v = input.strOrNull('default_payment_method');
  if (v === undefined || v === null) return v;
  const paymentMethod = resolvePaymentMethod(emulator, v, 'default_payment_method');
  if (paymentMethod.customer && paymentMethod.customer !== customerId) {
    throw invalidRequest('The payment method must be attached to the customer.', 'default_payment_method');
  }
  if (!paymentMethod.customer) {
    paymentMethod.customer = customerId;
    emulator.store.put(COLLECTIONS.paymentMethod, paymentMethod);
  }
  return paymentMethod.id;
}

/** `payment_settings[save_default_payment_method]`: `off` or `on_subscription`. */
function readSaveDefaultPaymentMethod(params: ParamReader): SaveDefaultPaymentMethod | undefined {
  return params
    .obj('payment_settings')
    ?.oneOf('save_default_payment_method', ['off', 'on_subscription'] as const);
}

function create(req: ApiRequest): Stripe.Subscription {
  const { emulator, input } = req;
  learnOrigin(emulator, req.headers.host);
  const customer = requireCustomer(emulator, input.reqStr('customer'));
  const at = now(emulator, customer.id);
  const items: ItemInput[] = (input.objArray('items') ?? []).map((r, i) => {
    const price = readPrice(emulator, r);
    const quantity = r.int('quantity');
    refuseMeteredQuantity(price, quantity, `items[${i}]`);
    return { price, quantity, metadata: r.metadata({}) };
  });
  if (items.length === 0)
    throw invalidRequest('Missing required param: items.', 'items', 'parameter_missing');
  const trialEndRaw = readTimestampOrNow(input, 'trial_end');
  const trialDays = input.int('trial_period_days');
  let trialEnd: number | null = null;
  if (trialEndRaw === 'now') trialEnd = null;
  else if (trialEndRaw !== undefined) {
    if (trialEndRaw <= at)
      throw invalidRequest(
        'Invalid timestamp: must be an integer Unix timestamp in the future.',
        'trial_end',
      );
    trialEnd = trialEndRaw;
  } else if (trialDays !== undefined && trialDays > 0) trialEnd = at + trialDays * 86_400;
  const ts = input.obj('trial_settings')?.obj('end_behavior');
  const anchor = input.int('billing_cycle_anchor');
  if (anchor !== undefined && anchor < at) {
    throw invalidRequest('billing_cycle_anchor cannot be in the past.', 'billing_cycle_anchor');
  }
  const cancelAt = readCancelAt(input);
  const discounts = readSubscriptionDiscounts(
    emulator,
    input,
    customer,
    subscriptionCurrency(
      emulator,
      customer,
      items.map((item) => item.price),
      input.str('currency'),
    ),
    recurringAmount(items),
  );
  return createSubscription(emulator, {
    discounts: discounts ?? undefined,
    customer,
    items,
    trialEnd,
    trialFromPlan: input.bool('trial_from_plan') ?? false,
    missingPaymentMethod:
      ts?.oneOf('missing_payment_method', ['cancel', 'create_invoice', 'pause'] as const) ?? 'create_invoice',
    paymentBehavior: (input.oneOf('payment_behavior', PAYMENT_BEHAVIORS) ??
      'allow_incomplete') as PaymentBehavior,
    defaultPaymentMethod: readPaymentMethod(emulator, input, customer.id) ?? null,
    billingCycleAnchor: anchor ?? null,
    cancelAt: cancelAt ?? null,
    cancelAtPeriodEnd: input.bool('cancel_at_period_end') ?? false,
    collectionMethod:
      input.oneOf('collection_method', ['charge_automatically', 'send_invoice'] as const) ??
      'charge_automatically',
    daysUntilDue: input.int('days_until_due') ?? null,
    description: input.str('description') ?? null,
    metadata: input.metadata({}),
    prorationBehavior: (input.oneOf('proration_behavior', PRORATION) ??
      'create_prorations') as ProrationBehavior,
    saveDefaultPaymentMethod: readSaveDefaultPaymentMethod(input),
    ...readSubscriptionTax(emulator, input, null),
    currency: input.str('currency'),
  });
}

export function readItemChanges(emulator: Emulator, readers: ParamReader[]): ItemChange[] {
  return readers.map((input, i) => {
    const price =
      input.has('price') || input.has('price_data') || input.has('plan') ? readPrice(emulator, input) : null;
    const quantity = input.int('quantity');
    if (price) refuseMeteredQuantity(price, quantity, `items[${i}]`);
    return {
      id: input.str('id') ?? null,
      price,
      quantity,
      deleted: input.bool('deleted') ?? false,
      metadata: input.has('metadata') ? input.metadata({}) : undefined,
    };
  });
}

function update(req: ApiRequest): Stripe.Subscription {
  const { emulator, input } = req;
  learnOrigin(emulator, req.headers.host);
  const subscription = requireSubscription(emulator, req.pathParams.id);
  if (input.str('payment_behavior') === 'pending_if_incomplete') refuseOutsidePendingUpdate(input.raw);
  const customerId = customerIdOf(subscription);
  const pc = input.raw.pause_collection;
  let pauseCollection: Stripe.Subscription.PauseCollection | null | undefined;
  if (pc === '') pauseCollection = null;
  else if (pc !== undefined) {
    const r = input.obj('pause_collection');
    pauseCollection = {
      behavior: r?.oneOf('behavior', ['keep_as_draft', 'mark_uncollectible', 'void'] as const) ?? 'void',
      resumes_at: r?.int('resumes_at') ?? null,
    };
  }
  return updateSubscription(emulator, subscription, {
    items: refuseOtherCurrency(
      readItemChanges(emulator, input.objArray('items') ?? []),
      subscription.currency,
    ),
    prorationBehavior: (input.oneOf('proration_behavior', PRORATION) ??
      'create_prorations') as ProrationBehavior,
    prorationDate: input.int('proration_date') ?? null,
    billingCycleAnchor: readAnchorChoice(input),
    cancelAtPeriodEnd: input.bool('cancel_at_period_end'),
    cancelAt: readCancelAt(input),
    trialEnd: readTimestampOrNow(input, 'trial_end'),
    defaultPaymentMethod: readPaymentMethod(emulator, input, customerId),
    metadata: input.has('metadata') ? input.metadata(subscription.metadata) : undefined,
    description: input.has('description') ? (input.strOrNull('description') ?? null) : undefined,
    pauseCollection,
    paymentBehavior: (input.oneOf('payment_behavior', PAYMENT_BEHAVIORS) ??
      'allow_incomplete') as PaymentBehavior,
    saveDefaultPaymentMethod: readSaveDefaultPaymentMethod(input),
    ...readSubscriptionTax(emulator, input, subscription),
    discounts: readSubscriptionDiscounts(
      emulator,
      input,
      requireCustomer(emulator, customerId),
      subscription.currency,
      recurringAmount(subscription.items.data),
    ),
  });
}

/** `automatic_tax` and `default_tax_rates`, checked together against what the subscription already has. */
function readSubscriptionTax(
  emulator: Emulator,
  input: ParamReader,
  current: Stripe.Subscription | null,
): { automaticTax?: boolean; defaultTaxRates?: Stripe.TaxRate[] } {
  const automaticTax = readAutomaticTax(input);
  const defaultTaxRates = readDefaultTaxRates(emulator, input);
  refuseMixedTax(
    automaticTax ?? current?.automatic_tax.enabled ?? false,
    defaultTaxRates ?? current?.default_tax_rates ?? [],
  );
  return { automaticTax, defaultTaxRates };
}

function cancel(req: ApiRequest): Stripe.Subscription {
  const { emulator, input } = req;
  const subscription = requireSubscription(emulator, req.pathParams.id);
  const details = input.obj('cancellation_details');
  if (details) {
    subscription.cancellation_details = {
      comment: details.str('comment') ?? null,
      feedback: details.str('feedback') ?? null,
      feedback_option: null,
      reason: 'cancellation_requested',
    };
  }
  return cancelNow(emulator, subscription, {
    invoiceNow: input.bool('invoice_now') ?? false,
    prorate: input.bool('prorate') ?? false,
    reason: 'cancellation_requested',
    dropPendingProrations: true,
  });
}

function list(req: ApiRequest): unknown {
  const { emulator, input } = req;
  const customer = input.str('customer');
  const price = input.str('price');
  const status = input.str('status');
  const created = input.range('created');
  const testClock = input.str('test_clock');
  const items = emulator.store.all(COLLECTIONS.subscription).filter((s) => {
    if (customer && customerIdOf(s) !== customer) return false;
    if (price && !s.items.data.some((i) => i.price.id === price)) return false;
    if (testClock && idOf(s.test_clock) !== testClock) return false;
    if (created && !created(s.created)) return false;
    // Stripe: "If no value is supplied, all subscriptions that have not been canceled are
    // returned"; `all` shows everything, `ended` canceled + incomplete_expired.
    if (!status) return s.status !== 'canceled';
    if (status === 'all') return true;
    if (status === 'ended') return s.status === 'canceled' || s.status === 'incomplete_expired';
    return s.status === status;
  });
  return paginate(items, input, req.path);
}

// --- subscription items ----------------------------------------------------------------------

function findItem(
  emulator: Emulator,
  itemId: string,
): { subscription: Stripe.Subscription; item: Stripe.SubscriptionItem } {
  for (const subscription of emulator.store.all(COLLECTIONS.subscription)) {
    const item = subscription.items.data.find((i) => i.id === itemId);
    if (item) return { subscription, item };
  }
  throw notFound('subscription_item', itemId);
}

function itemWrite(
  req: ApiRequest,
  change: (subscription: Stripe.Subscription) => ItemChange,
): Stripe.SubscriptionItem | { id: string; object: string; deleted: true } {
  const { emulator, input } = req;
  if (input.str('payment_behavior') === 'pending_if_incomplete') refuseOutsidePendingItemUpdate(input.raw);
  const subscriptionId = req.pathParams.id
    ? findItem(emulator, req.pathParams.id).subscription.id
    : input.reqStr('subscription');
  const subscription = requireSubscription(emulator, subscriptionId);
  const ch = change(subscription);
  const before = new Set(subscription.items.data.map((i) => i.id));
  updateSubscription(emulator, subscription, {
    items: [ch],
    prorationBehavior: (input.oneOf('proration_behavior', PRORATION) ??
      'create_prorations') as ProrationBehavior,
    prorationDate: input.int('proration_date') ?? null,
    billingCycleAnchor: null,
    cancelAtPeriodEnd: undefined,
    cancelAt: undefined,
    trialEnd: undefined,
    defaultPaymentMethod: undefined,
    metadata: undefined,
    description: undefined,
    pauseCollection: undefined,
    paymentBehavior: (input.oneOf('payment_behavior', PAYMENT_BEHAVIORS) ??
      'allow_incomplete') as PaymentBehavior,
  });
  if (ch.deleted && ch.id) return { id: ch.id, object: 'subscription_item', deleted: true };
  // A change waiting in `pending_update` is answered as it will be once paid.
  const items = subscription.pending_update?.subscription_items ?? subscription.items.data;
  const item = ch.id ? items.find((i) => i.id === ch.id) : items.find((i) => !before.has(i.id));
  if (!item) throw notFound('subscription_item', ch.id ?? '');
  return item;
}

const itemRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/subscription_items',
    params: ACCEPTED.itemCreate,
    handler: (req) =>
      itemWrite(req, () => {
        const price = readPrice(req.emulator, req.input);
        const quantity = req.input.int('quantity');
        if (quantity !== undefined && isMetered(price)) {
          throw invalidRequest('Quantity should not be specified where usage_type is `metered`.', 'quantity');
        }
        return { id: null, price, quantity, deleted: false, metadata: req.input.metadata({}) };
      }),
  },
  {
    method: 'GET',
    path: '/v1/subscription_items',
    handler: (req) => {
      const subscription = requireSubscription(req.emulator, req.input.reqStr('subscription'));
      return paginate([...subscription.items.data].reverse(), req.input, req.path);
    },
  },
  {
    method: 'GET',
    path: '/v1/subscription_items/:id',
    handler: (req) => findItem(req.emulator, req.pathParams.id).item,
  },
  {
    method: 'POST',
    path: '/v1/subscription_items/:id',
    params: ACCEPTED.itemUpdate,
    handler: (req) =>
      itemWrite(req, () => ({
        id: req.pathParams.id,
        price:
          req.input.has('price') || req.input.has('price_data') ? readPrice(req.emulator, req.input) : null,
        quantity: req.input.int('quantity'),
        deleted: false,
        metadata: req.input.has('metadata')
          ? req.input.metadata(findItem(req.emulator, req.pathParams.id).item.metadata)
          : undefined,
      })),
  },
  {
    method: 'DELETE',
    path: '/v1/subscription_items/:id',
    params: ACCEPTED.itemDelete,
    handler: (req) =>
      itemWrite(req, () => ({
        id: req.pathParams.id,
        price: null,
        quantity: undefined,
        deleted: true,
        metadata: undefined,
      })),
  },
];

export const routes: Route[] = [
  { method: 'POST', path: '/v1/subscriptions', handler: create, params: ACCEPTED.subscriptionCreate },
  { method: 'GET', path: '/v1/subscriptions', handler: list, params: ACCEPTED.subscriptionList },
  {
    method: 'GET',
    path: '/v1/subscriptions/search',
    handler: (req) => search(req.emulator.store.all(COLLECTIONS.subscription), req.input, req.path),
  },
  {
    method: 'GET',
    path: '/v1/subscriptions/:id',
    handler: (req) => requireSubscription(req.emulator, req.pathParams.id),
  },
  { method: 'POST', path: '/v1/subscriptions/:id', handler: update, params: ACCEPTED.subscriptionUpdate },
  { method: 'DELETE', path: '/v1/subscriptions/:id', handler: cancel, params: ACCEPTED.subscriptionCancel },
  {
    method: 'POST',
    path: '/v1/subscriptions/:id/pause',
    handler: (req) => pauseSubscription(req.emulator, requireSubscription(req.emulator, req.pathParams.id)),
  },
  {
    method: 'POST',
    path: '/v1/subscriptions/:id/resume',
    params: ACCEPTED.subscriptionResume,
    handler: (req) => resumeSubscription(req.emulator, requireSubscription(req.emulator, req.pathParams.id)),
  },
  ...itemRoutes,
];
