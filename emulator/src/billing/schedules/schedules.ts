/**
 * Subscription schedules (https://docs.stripe.com/billing/subscriptions/subscription-schedules):
 * phases of items over time. At a phase boundary the subscription takes the next phase's items
 * without proration (the renewal at the same moment bills the new price); after the last phase
 * `end_behavior` applies (`release` leaves the subscription running, `cancel` ends it). A last
 * phase without an end lasts one billing interval, as Stripe defaults it.
 */
import { ACCEPTED } from '../accepted-params';
import type Stripe from 'stripe';
import { invalidRequest, missingParam } from '../../core/errors';
import type { ApiRequest, Route } from '../../core/http';
import { paginate } from '../../core/list';
import { previousAttributes } from '../../core/store';
import type { ParamReader } from '../../core/params';
import { requireCustomer, requirePrice } from '../../resources/common';
import { type Emulator, emit, id, idOf, now } from '../context';
import { customerIdOf } from '../invoices/invoices';
import { addIntervals, type Interval } from '../math';
import { isMetered, recurringOf, refuseMeteredQuantity } from '../pricing';
import { subscriptionPeriod } from '../subscriptions/subscription-objects';
import { itemsOfPhase } from './phase-items';
import type { Task } from '../time/task';
import {
  billDroppedMeteredUsage,
  droppedMeteredItems,
  restartSwappedMeteredItems,
} from '../subscriptions/subscription-lines';
import { cancelNow } from '../subscriptions/subscription-lifecycle';
import { createSubscription } from '../subscriptions/create-subscription';
import { requireSubscription, saveSubscription } from '../subscriptions/subscription-state';
import { COLLECTIONS } from '../../core/collections';

type Schedule = Stripe.SubscriptionSchedule;
type Phase = Stripe.SubscriptionSchedule.Phase;

function requireSchedule(emulator: Emulator, scheduleId: string): Schedule {
  return emulator.store.require(COLLECTIONS.schedule, scheduleId, 'subscription schedule');
}

function phaseFromItems(
  items: { price: Stripe.Price; quantity: number | undefined }[],
  start: number,
  end: number,
  extra: {
    prorationBehavior?: Stripe.SubscriptionSchedule.Phase.ProrationBehavior;
    metadata?: Record<string, string>;
    trialEnd?: number | null;
  },
): Phase {
  return {
    add_invoice_items: [],
    application_fee_percent: null,
    billing_cycle_anchor: null,
    billing_thresholds: null,
    collection_method: null,
    currency: items[0]?.price.currency ?? 'usd',
    default_payment_method: null,
    description: null,
    discounts: [],
    end_date: end,
    invoice_settings: null,
    items: items.map((item) => ({
      billing_thresholds: null,
      discounts: [],
      metadata: {},
      plan: item.price.id,
      price: item.price.id,
      ...(isMetered(item.price) ? {} : { quantity: item.quantity ?? 1 }),
      tax_rates: [],
    })),
    metadata: extra.metadata ?? {},
    on_behalf_of: null,
    proration_behavior: extra.prorationBehavior ?? 'create_prorations',
    start_date: start,
    transfer_data: null,
    trial_end: extra.trialEnd ?? null,
  };
}

function buildSchedule(
  emulator: Emulator,
  customer: string,
  subscription: Stripe.Subscription | null,
  phases: Phase[],
  endBehavior: Stripe.SubscriptionSchedule.EndBehavior,
  metadata: Record<string, string>,
): Schedule {
  const at = now(emulator, customer);
  const c = emulator.store.get(COLLECTIONS.customer, customer);
  return {
    id: id('sub_sched'),
    object: 'subscription_schedule',
    application: null,
    billing_mode: { flexible: null, type: 'flexible', updated_at: at },
    canceled_at: null,
    completed_at: null,
    created: at,
    current_phase: phases[0] ? { start_date: phases[0].start_date, end_date: phases[0].end_date } : null,
    customer,
    customer_account: null,
    default_settings: {
      application_fee_percent: null,
      billing_cycle_anchor: 'automatic',
      billing_thresholds: null,
      collection_method: 'charge_automatically',
      default_payment_method: null,
      description: null,
      invoice_settings: {
        account_tax_ids: null,
        custom_fields: null,
        days_until_due: null,
        description: null,
        footer: null,
        issuer: { type: 'self' },
      },
      on_behalf_of: null,
      transfer_data: null,
    },
    end_behavior: endBehavior,
    livemode: false,
    metadata,
    pause_schedules: [],
    phases,
    released_at: null,
    released_subscription: null,
    status: 'active',
    subscription: subscription?.id ?? null,
    test_clock: idOf(c?.test_clock ?? null),
  };
}

interface PhaseInput {
  items: { price: Stripe.Price; quantity: number | undefined }[];
  startDate: number | null;
  endDate: number | null;
  duration: { interval: Interval; count: number } | null;
  iterations: number | null;
  prorationBehavior: Stripe.SubscriptionSchedule.Phase.ProrationBehavior | undefined;
  metadata: Record<string, string> | undefined;
  trialEnd: number | null;
}

function readPhases(emulator: Emulator, readers: ParamReader[]): PhaseInput[] {
  return readers.map((input, i) => {
    const items = (input.objArray('items') ?? []).map((item, j) => {
      const price = requirePrice(emulator, item.reqStr('price'), `phases[${i}][items][${j}][price]`);
      const quantity = item.int('quantity');
      refuseMeteredQuantity(price, quantity, `phases[${i}][items][${j}]`);
      return { price, quantity };
    });
    if (items.length === 0) throw missingParam(`phases[${i}][items]`);
    const startRaw = input.intOr('start_date', ['now'] as const);
    const endRaw = input.intOr('end_date', ['now'] as const);
    const d = input.obj('duration');
    return {
      items,
      startDate: startRaw === undefined || startRaw === 'now' ? null : startRaw,
      endDate: endRaw === undefined || endRaw === 'now' ? null : endRaw,
      duration: d
        ? {
            interval: (d.oneOf('interval', ['day', 'week', 'month', 'year'] as const) ?? 'month') as Interval,
            count: d.int('interval_count') ?? 1,
          }
        : null,
      iterations: input.int('iterations') ?? null,
      prorationBehavior: input.oneOf('proration_behavior', [
        'always_invoice',
        'create_prorations',
        'none',
      ] as const),
      metadata: input.has('metadata') ? input.metadata({}) : undefined,
      trialEnd: input.int('trial_end') ?? null,
    };
  });
}

/** Resolves phase dates: each starts where the previous ended; an open last phase lasts one interval. */
function resolvePhases(inputs: PhaseInput[], firstStart: number): Phase[] {
  const phases: Phase[] = [];
  let start = firstStart;
  inputs.forEach((p, i) => {
    if (i === 0 && p.startDate !== null) start = p.startDate;
    const rec = recurringOf(p.items[0].price);
    let end: number;
    if (p.endDate !== null) end = p.endDate;
    else if (p.duration) end = addIntervals(start, p.duration.interval, p.duration.count, 1);
    else if (p.iterations) end = addIntervals(start, rec.interval, rec.count, p.iterations);
    else end = addIntervals(start, rec.interval, rec.count, 1);
    if (end <= start)
      throw invalidRequest('Phase end_date must be after its start_date.', `phases[${i}][end_date]`);
    phases.push(
      phaseFromItems(p.items, start, end, {
        prorationBehavior: p.prorationBehavior,
        metadata: p.metadata,
        trialEnd: p.trialEnd,
      }),
    );
    start = end;
  });
  return phases;
}

function currentPhaseIndex(s: Schedule): number {
  if (!s.current_phase) return -1;
  return s.phases.findIndex((p) => p.start_date === s.current_phase?.start_date);
}

/** Time engine hook: the current phase's end for active schedules in scope. */
export function scheduleTasks(emulator: Emulator, inScope: (customer: string) => boolean): Task[] {
  const tasks: Task[] = [];
  for (const s of emulator.store.all(COLLECTIONS.schedule)) {
    if (s.status !== 'active' || !s.current_phase) continue;
    const customer = customerIdOf(s);
    if (!inScope(customer)) continue;
    tasks.push({ at: s.current_phase.end_date, priority: 0, customer, run: () => advancePhase(emulator, s) });
  }
  return tasks;
}

function advancePhase(emulator: Emulator, s: Schedule): void {
  const idx = currentPhaseIndex(s);
  const next = s.phases[idx + 1];
  const subscriptionId = idOf(s.subscription);
  const subscription = subscriptionId
    ? emulator.store.get(COLLECTIONS.subscription, subscriptionId)
    : undefined;
  if (!next) {
    finishSchedule(emulator, s, subscription);
    return;
  }
  if (subscription && subscription.status !== 'canceled') {
    const before = structuredClone(subscription);
    const period = subscriptionPeriod(subscription);
    // The new phase's items replace the old ones without proration; their period is the one
    // ending now, so the renewal at this same moment bills the new prices.
    subscription.items.data = itemsOfPhase(emulator, subscription, next);
    if (next.metadata && Object.keys(next.metadata).length > 0)
      subscription.metadata = { ...subscription.metadata, ...next.metadata };
    saveSubscription(emulator, subscription);
    emit(emulator, 'customer.subscription.updated', subscription, { items: before.items });
    // Metered prices the new phase drops bill their usage so far (the renewal at this moment carries it),
    // unless the phase is entered without prorations, which Stripe also applies to that usage.
    const at = now(emulator, customerIdOf(subscription));
    restartSwappedMeteredItems(emulator, before.items.data, subscription.items.data, at);
    if (next.proration_behavior !== 'none' && before.status !== 'trialing') {
      billDroppedMeteredUsage(
        emulator,
        before,
        droppedMeteredItems(before.items.data, subscription.items.data),
        period,
        at,
      );
    }
  }
  const { obj, previous } = emulator.store.update(COLLECTIONS.schedule, s.id, (x) => {
    x.current_phase = { start_date: next.start_date, end_date: next.end_date };
  });
  emit(emulator, 'subscription_schedule.updated', obj, previous);
  if (emulator.store.get(COLLECTIONS.portalSwitchSchedule, s.id) && idx + 2 === s.phases.length)
    release(emulator, obj);
}

/**
 * The customer portal's switch at the end of the period (`schedule_at_period_end`,
 * https://docs.stripe.com/changelog/acacia/2024-10-28/customer-portal-schedule-downgrades): Stripe
 * does it with a subscription schedule whose first phase keeps the current items until the period
 * ends and whose second phase has the new ones; once the switch applies the schedule is released
 * (what integrators observed with a test clock: old price until the period end, new price from
 * then, schedule released after the boundary). The caller makes sure `sub` has no schedule yet.
 */
export function scheduleSwitchAtPeriodEnd(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  nextItems: { price: Stripe.Price; quantity: number | undefined }[],
): Schedule {
  const period = subscriptionPeriod(subscription);
  const current = phaseFromItems(
    subscription.items.data.map((item) => ({ price: item.price, quantity: item.quantity })),
    period.start,
    period.end,
    { prorationBehavior: 'none' },
  );
  const rec = recurringOf(nextItems[0].price);
  const next = phaseFromItems(nextItems, period.end, addIntervals(period.end, rec.interval, rec.count, 1), {
    prorationBehavior: 'none',
  });
  const schedule = buildSchedule(
    emulator,
    customerIdOf(subscription),
    subscription,
    [current, next],
    'release',
    {},
  );
  emulator.store.insert(COLLECTIONS.schedule, schedule);
  emulator.store.put(COLLECTIONS.portalSwitchSchedule, { id: schedule.id });
  emit(emulator, 'subscription_schedule.created', schedule);
  const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (x) => {
    x.schedule = schedule.id;
  });
  emit(emulator, 'customer.subscription.updated', obj, previous);
  return schedule;
}

function finishSchedule(
  emulator: Emulator,
  s: Schedule,
  subscription: Stripe.Subscription | undefined,
): void {
  const at = now(emulator, customerIdOf(s));
  if (s.end_behavior === 'cancel' && subscription && subscription.status !== 'canceled') {
    cancelNow(emulator, subscription, { invoiceNow: false, prorate: false, reason: null });
    const { obj, previous } = emulator.store.update(COLLECTIONS.schedule, s.id, (x) => {
      x.status = 'completed';
      x.completed_at = at;
      x.current_phase = null;
    });
    emit(emulator, 'subscription_schedule.completed', obj, previous);
    return;
  }
  release(emulator, s);
}

function release(emulator: Emulator, s: Schedule): Schedule {
  const at = now(emulator, customerIdOf(s));
  const subscriptionId = idOf(s.subscription);
  const { obj, previous } = emulator.store.update(COLLECTIONS.schedule, s.id, (x) => {
    x.status = 'released';
    x.released_at = at;
    x.released_subscription = subscriptionId;
    x.current_phase = null;
    x.subscription = null;
  });
  if (subscriptionId) {
    const subscription = emulator.store.get(COLLECTIONS.subscription, subscriptionId);
    if (subscription && subscription.schedule === s.id) {
      const u = emulator.store.update(COLLECTIONS.subscription, subscriptionId, (x) => {
        x.schedule = null;
      });
      emit(emulator, 'customer.subscription.updated', u.obj, u.previous);
    }
  }
  emit(emulator, 'subscription_schedule.released', obj, previous);
  return obj;
}

function create(req: ApiRequest): Schedule {
  const { emulator, input } = req;
  const from = input.str('from_subscription');
  if (from) {
    if (input.has('phases')) {
      throw invalidRequest('You cannot set `phases` if `from_subscription` is set.', 'phases');
    }
    const subscription = requireSubscription(emulator, from);
    if (subscription.schedule)
      throw invalidRequest(
        `The subscription \`${subscription.id}\` is already attached to a schedule.`,
        'from_subscription',
      );
    const period = subscriptionPeriod(subscription);
    const phase = phaseFromItems(
      subscription.items.data.map((item) => ({ price: item.price, quantity: item.quantity })),
      period.start,
      period.end,
      { prorationBehavior: 'create_prorations' },
    );
    const schedule = buildSchedule(
      emulator,
      customerIdOf(subscription),
      subscription,
      [phase],
      'release',
      input.metadata({}),
    );
    emulator.store.insert(COLLECTIONS.schedule, schedule);
    emit(emulator, 'subscription_schedule.created', schedule);
    const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (x) => {
      x.schedule = schedule.id;
    });
    emit(emulator, 'customer.subscription.updated', obj, previous);
    return schedule;
  }
  const customer = requireCustomer(emulator, input.reqStr('customer'));
  const inputs = readPhases(emulator, input.objArray('phases') ?? []);
  if (inputs.length === 0) throw missingParam('phases');
  const at = now(emulator, customer.id);
  const startRaw = input.intOr('start_date', ['now'] as const);
  if (startRaw !== undefined && startRaw !== 'now' && startRaw > at) {
    throw invalidRequest(
      'The emulator only supports schedules that start now (start_date=now).',
      'start_date',
    );
  }
  const phases = resolvePhases(inputs, at);
  phases[0].start_date = at;
  const subscription = createSubscription(emulator, {
    customer,
    items: inputs[0].items.map((i) => ({ price: i.price, quantity: i.quantity, metadata: {} })),
    trialEnd: inputs[0].trialEnd,
    trialFromPlan: false,
    missingPaymentMethod: 'create_invoice',
    paymentBehavior: 'allow_incomplete',
    defaultPaymentMethod: subscriptionPaymentMethodFor(customer),
    billingCycleAnchor: null,
    cancelAt: null,
    cancelAtPeriodEnd: false,
    collectionMethod: 'charge_automatically',
    daysUntilDue: null,
    description: null,
    metadata: inputs[0].metadata ?? {},
    prorationBehavior: 'create_prorations',
  });
  const endBehavior =
    input.oneOf('end_behavior', ['cancel', 'none', 'release', 'renew'] as const) ?? 'release';
  const schedule = buildSchedule(
    emulator,
    customer.id,
    subscription,
    phases,
    endBehavior,
    input.metadata({}),
  );
  emulator.store.insert(COLLECTIONS.schedule, schedule);
  subscription.schedule = schedule.id;
  saveSubscription(emulator, subscription);
  emit(emulator, 'subscription_schedule.created', schedule);
  return schedule;
}

function subscriptionPaymentMethodFor(customer: Stripe.Customer): string | null {
  return idOf(customer.invoice_settings?.default_payment_method ?? null);
}

function update(req: ApiRequest): Schedule {
  const { emulator, input } = req;
  const s = requireSchedule(emulator, req.pathParams.id);
  if (s.status !== 'active' && s.status !== 'not_started') {
    throw invalidRequest(`You cannot update a subscription schedule that is ${s.status}.`);
  }
  const before = structuredClone(s);
  if (input.has('phases')) {
    const inputs = readPhases(emulator, input.objArray('phases') ?? []);
    const start = inputs[0]?.startDate ?? s.current_phase?.start_date ?? now(emulator, customerIdOf(s));
    s.phases = resolvePhases(inputs, start);
    s.current_phase = s.phases[0]
      ? { start_date: s.phases[0].start_date, end_date: s.phases[0].end_date }
      : null;
  }
  const eb = input.oneOf('end_behavior', ['cancel', 'none', 'release', 'renew'] as const);
  if (eb) s.end_behavior = eb;
  if (input.has('metadata')) s.metadata = input.metadata(s.metadata ?? {});
  emulator.store.put(COLLECTIONS.schedule, s);
  emit(emulator, 'subscription_schedule.updated', s, previousAttributes(before, s));
  return s;
}

function cancel(req: ApiRequest): Schedule {
  const { emulator, input } = req;
  const s = requireSchedule(emulator, req.pathParams.id);
  if (s.status !== 'active' && s.status !== 'not_started') {
    throw invalidRequest(`You cannot cancel a subscription schedule that is ${s.status}.`);
  }
  const subscriptionId = idOf(s.subscription);
  const subscription = subscriptionId
    ? emulator.store.get(COLLECTIONS.subscription, subscriptionId)
    : undefined;
  if (subscription && subscription.status !== 'canceled') {
    cancelNow(emulator, subscription, {
      invoiceNow: input.bool('invoice_now') ?? true,
      prorate: input.bool('prorate') ?? true,
      reason: 'cancellation_requested',
    });
  }
  const { obj, previous } = emulator.store.update(COLLECTIONS.schedule, s.id, (x) => {
    x.status = 'canceled';
    x.canceled_at = now(emulator, customerIdOf(s));
    x.current_phase = null;
  });
  emit(emulator, 'subscription_schedule.canceled', obj, previous);
  return obj;
}

function list(req: ApiRequest): unknown {
  const { emulator, input } = req;
  const customer = input.str('customer');
  const items = emulator.store
    .all(COLLECTIONS.schedule)
    .filter((s) => !customer || customerIdOf(s) === customer);
  return paginate(items, input, req.path);
}

export const routes: Route[] = [
  { method: 'POST', path: '/v1/subscription_schedules', handler: create, params: ACCEPTED.scheduleCreate },
  { method: 'GET', path: '/v1/subscription_schedules', handler: list },
  {
    method: 'GET',
    path: '/v1/subscription_schedules/:id',
    handler: (req) => requireSchedule(req.emulator, req.pathParams.id),
  },
  {
    method: 'POST',
    path: '/v1/subscription_schedules/:id',
    handler: update,
    params: ACCEPTED.scheduleUpdate,
  },
  { method: 'POST', path: '/v1/subscription_schedules/:id/cancel', handler: cancel },
  {
    method: 'POST',
    path: '/v1/subscription_schedules/:id/release',
    handler: (req) => {
      const s = requireSchedule(req.emulator, req.pathParams.id);
      if (s.status !== 'active' && s.status !== 'not_started') {
        throw invalidRequest(`You cannot release a subscription schedule that is ${s.status}.`);
      }
      return release(req.emulator, s);
    },
  },
];
