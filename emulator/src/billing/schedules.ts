/**
 * Subscription schedules (https://docs.stripe.com/billing/subscriptions/subscription-schedules):
 * phases of items over time. At a phase boundary the subscription takes the next phase's items
 * without proration (the renewal at the same moment bills the new price); after the last phase
 * `end_behavior` applies (`release` leaves the subscription running, `cancel` ends it). A last
 * phase without an end lasts one billing interval, as Stripe defaults it.
 */
import { ACCEPTED } from './accepted-params';
import type Stripe from 'stripe';
import { invalidRequest, missingParam } from '../core/errors';
import type { ApiRequest, Route } from '../core/http';
import { paginate } from '../core/list';
import { previousAttributes } from '../core/store';
import type { ParamReader } from '../core/params';
import { requireCustomer, requirePrice } from '../resources/common';
import { C, type Emulator, emit, id, idOf, now } from './ctx';
import { customerIdOf } from './invoices';
import { addIntervals, type Interval } from './math';
import { isMetered, recurringOf, refuseMeteredQuantity } from './pricing';
import { buildItem, subPeriod } from './subscription-objects';
import type { Task } from './time/engine';
import {
  billDroppedMeteredUsage,
  cancelNow,
  createSubscription,
  droppedMeteredItems,
  requireSubscription,
  restartSwappedMeteredItems,
  saveSub,
} from './subscriptions';

type Schedule = Stripe.SubscriptionSchedule;
type Phase = Stripe.SubscriptionSchedule.Phase;

function requireSchedule(emu: Emulator, scheduleId: string): Schedule {
  return emu.store.require<Schedule>(C.schedule, scheduleId, 'subscription schedule');
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
    items: items.map((it) => ({
      billing_thresholds: null,
      discounts: [],
      metadata: {},
      plan: it.price.id,
      price: it.price.id,
      ...(isMetered(it.price) ? {} : { quantity: it.quantity ?? 1 }),
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
  emu: Emulator,
  customer: string,
  sub: Stripe.Subscription | null,
  phases: Phase[],
  endBehavior: Stripe.SubscriptionSchedule.EndBehavior,
  metadata: Record<string, string>,
): Schedule {
  const at = now(emu, customer);
  const c = emu.store.get<Stripe.Customer>(C.customer, customer);
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
    subscription: sub?.id ?? null,
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

function readPhases(emu: Emulator, readers: ParamReader[]): PhaseInput[] {
  return readers.map((r, i) => {
    const items = (r.objArray('items') ?? []).map((it, j) => {
      const price = requirePrice(emu, it.reqStr('price'), `phases[${i}][items][${j}][price]`);
      const quantity = it.int('quantity');
      refuseMeteredQuantity(price, quantity, `phases[${i}][items][${j}]`);
      return { price, quantity };
    });
    if (items.length === 0) throw missingParam(`phases[${i}][items]`);
    const startRaw = r.intOr('start_date', ['now'] as const);
    const endRaw = r.intOr('end_date', ['now'] as const);
    const d = r.obj('duration');
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
      iterations: r.int('iterations') ?? null,
      prorationBehavior: r.oneOf('proration_behavior', [
        'always_invoice',
        'create_prorations',
        'none',
      ] as const),
      metadata: r.has('metadata') ? r.metadata({}) : undefined,
      trialEnd: r.int('trial_end') ?? null,
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
export function scheduleTasks(emu: Emulator, inScope: (customer: string) => boolean): Task[] {
  const tasks: Task[] = [];
  for (const s of emu.store.all<Schedule>(C.schedule)) {
    if (s.status !== 'active' || !s.current_phase) continue;
    const customer = customerIdOf(s);
    if (!inScope(customer)) continue;
    tasks.push({ at: s.current_phase.end_date, priority: 0, customer, run: () => advancePhase(emu, s) });
  }
  return tasks;
}

function advancePhase(emu: Emulator, s: Schedule): void {
  const idx = currentPhaseIndex(s);
  const next = s.phases[idx + 1];
  const subId = idOf(s.subscription);
  const sub = subId ? emu.store.get<Stripe.Subscription>(C.subscription, subId) : undefined;
  if (!next) {
    finishSchedule(emu, s, sub);
    return;
  }
  if (sub && sub.status !== 'canceled') {
    const before = structuredClone(sub);
    const period = subPeriod(sub);
    // The new phase's items replace the old ones without proration; their period is the one
    // ending now, so the renewal at this same moment bills the new prices.
    sub.items.data = next.items.map((it) => {
      const price = emu.store.require<Stripe.Price>(C.price, idOf(it.price) ?? '', 'price');
      const existing = sub.items.data.find((x) => x.price.id === price.id);
      if (existing) {
        if (it.quantity !== undefined) existing.quantity = it.quantity;
        return existing;
      }
      return buildItem({
        subscription: sub.id,
        price,
        quantity: it.quantity,
        created: now(emu, customerIdOf(sub)),
        periodStart: period.start,
        periodEnd: period.end,
        metadata: {},
      });
    });
    if (next.metadata && Object.keys(next.metadata).length > 0)
      sub.metadata = { ...sub.metadata, ...next.metadata };
    saveSub(emu, sub);
    emit(emu, 'customer.subscription.updated', sub, { items: before.items });
    // Metered prices the new phase drops bill their usage so far (the renewal at this moment carries it),
    // unless the phase is entered without prorations, which Stripe also applies to that usage.
    const at = now(emu, customerIdOf(sub));
    restartSwappedMeteredItems(emu, before.items.data, sub.items.data, at);
    if (next.proration_behavior !== 'none' && before.status !== 'trialing') {
      billDroppedMeteredUsage(
        emu,
        before,
        droppedMeteredItems(before.items.data, sub.items.data),
        period,
        at,
      );
    }
  }
  const { obj, previous } = emu.store.update<Schedule>(C.schedule, s.id, (x) => {
    x.current_phase = { start_date: next.start_date, end_date: next.end_date };
  });
  emit(emu, 'subscription_schedule.updated', obj, previous);
  if (emu.store.get(PORTAL_SWITCHES, s.id) && idx + 2 === s.phases.length) release(emu, obj);
}

/** Private: the schedules the customer portal made to switch a plan at the period end. */
const PORTAL_SWITCHES = '_portal_switch_schedule';

/**
 * The customer portal's switch at the end of the period (`schedule_at_period_end`,
 * https://docs.stripe.com/changelog/acacia/2024-10-28/customer-portal-schedule-downgrades): Stripe
 * does it with a subscription schedule whose first phase keeps the current items until the period
 * ends and whose second phase has the new ones; once the switch applies the schedule is released
 * (what integrators observed with a test clock: old price until the period end, new price from
 * then, schedule released after the boundary). The caller makes sure `sub` has no schedule yet.
 */
export function scheduleSwitchAtPeriodEnd(
  emu: Emulator,
  sub: Stripe.Subscription,
  nextItems: { price: Stripe.Price; quantity: number | undefined }[],
): Schedule {
  const period = subPeriod(sub);
  const current = phaseFromItems(
    sub.items.data.map((it) => ({ price: it.price, quantity: it.quantity })),
    period.start,
    period.end,
    { prorationBehavior: 'none' },
  );
  const rec = recurringOf(nextItems[0].price);
  const next = phaseFromItems(nextItems, period.end, addIntervals(period.end, rec.interval, rec.count, 1), {
    prorationBehavior: 'none',
  });
  const sched = buildSchedule(emu, customerIdOf(sub), sub, [current, next], 'release', {});
  emu.store.insert(C.schedule, sched);
  emu.store.put(PORTAL_SWITCHES, { id: sched.id });
  emit(emu, 'subscription_schedule.created', sched);
  const { obj, previous } = emu.store.update<Stripe.Subscription>(C.subscription, sub.id, (x) => {
    x.schedule = sched.id;
  });
  emit(emu, 'customer.subscription.updated', obj, previous);
  return sched;
}

function finishSchedule(emu: Emulator, s: Schedule, sub: Stripe.Subscription | undefined): void {
  const at = now(emu, customerIdOf(s));
  if (s.end_behavior === 'cancel' && sub && sub.status !== 'canceled') {
    cancelNow(emu, sub, { invoiceNow: false, prorate: false, reason: null });
    const { obj, previous } = emu.store.update<Schedule>(C.schedule, s.id, (x) => {
      x.status = 'completed';
      x.completed_at = at;
      x.current_phase = null;
    });
    emit(emu, 'subscription_schedule.completed', obj, previous);
    return;
  }
  release(emu, s);
}

function release(emu: Emulator, s: Schedule): Schedule {
  const at = now(emu, customerIdOf(s));
  const subId = idOf(s.subscription);
  const { obj, previous } = emu.store.update<Schedule>(C.schedule, s.id, (x) => {
    x.status = 'released';
    x.released_at = at;
    x.released_subscription = subId;
    x.current_phase = null;
    x.subscription = null;
  });
  if (subId) {
    const sub = emu.store.get<Stripe.Subscription>(C.subscription, subId);
    if (sub && sub.schedule === s.id) {
      const u = emu.store.update<Stripe.Subscription>(C.subscription, subId, (x) => {
        x.schedule = null;
      });
      emit(emu, 'customer.subscription.updated', u.obj, u.previous);
    }
  }
  emit(emu, 'subscription_schedule.released', obj, previous);
  return obj;
}

function create(req: ApiRequest): Schedule {
  const { emu, p } = req;
  const from = p.str('from_subscription');
  if (from) {
    if (p.has('phases')) {
      throw invalidRequest('You cannot set `phases` if `from_subscription` is set.', 'phases');
    }
    const sub = requireSubscription(emu, from);
    if (sub.schedule)
      throw invalidRequest(
        `The subscription \`${sub.id}\` is already attached to a schedule.`,
        'from_subscription',
      );
    const period = subPeriod(sub);
    const phase = phaseFromItems(
      sub.items.data.map((it) => ({ price: it.price, quantity: it.quantity })),
      period.start,
      period.end,
      { prorationBehavior: 'create_prorations' },
    );
    const sched = buildSchedule(emu, customerIdOf(sub), sub, [phase], 'release', p.metadata({}));
    emu.store.insert(C.schedule, sched);
    emit(emu, 'subscription_schedule.created', sched);
    const { obj, previous } = emu.store.update<Stripe.Subscription>(C.subscription, sub.id, (x) => {
      x.schedule = sched.id;
    });
    emit(emu, 'customer.subscription.updated', obj, previous);
    return sched;
  }
  const customer = requireCustomer(emu, p.reqStr('customer'));
  const inputs = readPhases(emu, p.objArray('phases') ?? []);
  if (inputs.length === 0) throw missingParam('phases');
  const at = now(emu, customer.id);
  const startRaw = p.intOr('start_date', ['now'] as const);
  if (startRaw !== undefined && startRaw !== 'now' && startRaw > at) {
    throw invalidRequest(
      'The emulator only supports schedules that start now (start_date=now).',
      'start_date',
    );
  }
  const phases = resolvePhases(inputs, at);
  phases[0].start_date = at;
  const sub = createSubscription(emu, {
    customer,
    items: inputs[0].items.map((i) => ({ price: i.price, quantity: i.quantity, metadata: {} })),
    trialEnd: inputs[0].trialEnd,
    trialFromPlan: false,
    missingPaymentMethod: 'create_invoice',
    paymentBehavior: 'allow_incomplete',
    defaultPaymentMethod: subPaymentMethodFor(customer),
    billingCycleAnchor: null,
    cancelAt: null,
    cancelAtPeriodEnd: false,
    collectionMethod: 'charge_automatically',
    daysUntilDue: null,
    description: null,
    metadata: inputs[0].metadata ?? {},
    prorationBehavior: 'create_prorations',
  });
  const endBehavior = p.oneOf('end_behavior', ['cancel', 'none', 'release', 'renew'] as const) ?? 'release';
  const sched = buildSchedule(emu, customer.id, sub, phases, endBehavior, p.metadata({}));
  emu.store.insert(C.schedule, sched);
  sub.schedule = sched.id;
  saveSub(emu, sub);
  emit(emu, 'subscription_schedule.created', sched);
  return sched;
}

function subPaymentMethodFor(customer: Stripe.Customer): string | null {
  return idOf(customer.invoice_settings?.default_payment_method ?? null);
}

function update(req: ApiRequest): Schedule {
  const { emu, p } = req;
  const s = requireSchedule(emu, req.pathParams.id);
  if (s.status !== 'active' && s.status !== 'not_started') {
    throw invalidRequest(`You cannot update a subscription schedule that is ${s.status}.`);
  }
  const before = structuredClone(s);
  if (p.has('phases')) {
    const inputs = readPhases(emu, p.objArray('phases') ?? []);
    const start = inputs[0]?.startDate ?? s.current_phase?.start_date ?? now(emu, customerIdOf(s));
    s.phases = resolvePhases(inputs, start);
    s.current_phase = s.phases[0]
      ? { start_date: s.phases[0].start_date, end_date: s.phases[0].end_date }
      : null;
  }
  const eb = p.oneOf('end_behavior', ['cancel', 'none', 'release', 'renew'] as const);
  if (eb) s.end_behavior = eb;
  if (p.has('metadata')) s.metadata = p.metadata(s.metadata ?? {});
  emu.store.put(C.schedule, s);
  emit(emu, 'subscription_schedule.updated', s, previousAttributes(before, s));
  return s;
}

function cancel(req: ApiRequest): Schedule {
  const { emu, p } = req;
  const s = requireSchedule(emu, req.pathParams.id);
  if (s.status !== 'active' && s.status !== 'not_started') {
    throw invalidRequest(`You cannot cancel a subscription schedule that is ${s.status}.`);
  }
  const subId = idOf(s.subscription);
  const sub = subId ? emu.store.get<Stripe.Subscription>(C.subscription, subId) : undefined;
  if (sub && sub.status !== 'canceled') {
    cancelNow(emu, sub, {
      invoiceNow: p.bool('invoice_now') ?? true,
      prorate: p.bool('prorate') ?? true,
      reason: 'cancellation_requested',
    });
  }
  const { obj, previous } = emu.store.update<Schedule>(C.schedule, s.id, (x) => {
    x.status = 'canceled';
    x.canceled_at = now(emu, customerIdOf(s));
    x.current_phase = null;
  });
  emit(emu, 'subscription_schedule.canceled', obj, previous);
  return obj;
}

function list(req: ApiRequest): unknown {
  const { emu, p } = req;
  const customer = p.str('customer');
  const items = emu.store.all<Schedule>(C.schedule).filter((s) => !customer || customerIdOf(s) === customer);
  return paginate(items, p, req.path);
}

export const routes: Route[] = [
  { method: 'POST', path: '/v1/subscription_schedules', handler: create, params: ACCEPTED.scheduleCreate },
  { method: 'GET', path: '/v1/subscription_schedules', handler: list },
  {
    method: 'GET',
    path: '/v1/subscription_schedules/:id',
    handler: (req) => requireSchedule(req.emu, req.pathParams.id),
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
      const s = requireSchedule(req.emu, req.pathParams.id);
      if (s.status !== 'active' && s.status !== 'not_started') {
        throw invalidRequest(`You cannot release a subscription schedule that is ${s.status}.`);
      }
      return release(req.emu, s);
    },
  },
];
