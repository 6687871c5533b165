/**
 * Test clocks (https://docs.stripe.com/billing/testing/test-clocks): customers created with
 * `test_clock` live at the clock's `frozen_time`. `advance` answers `status: 'advancing'` at once,
 * then (asynchronously, like Stripe) runs what time brings for the clock's customers and turns
 * `ready`, with `test_helpers.test_clock.advancing` / `.ready` events. Deleting a clock deletes its
 * customers (and so ends their subscriptions).
 *
 * Not emulated: Stripe's limit of two billing intervals per advance (any jump is allowed).
 */
import { ACCEPTED } from '../accepted-params';
import type Stripe from 'stripe';
import { invalidRequest } from '../../core/errors';
import type { ApiRequest, Route } from '../../core/http';
import { paginate } from '../../core/list';
import { C, type Emulator, emit, id, idOf } from '../ctx';
import { runDue } from './engine';

type Clock = Stripe.TestHelpers.TestClock;

function requireClock(emu: Emulator, clockId: string): Clock {
  return emu.store.require<Clock>(C.testClock, clockId, 'test_clock');
}

/** Time source: a customer on a clock lives at its frozen time. */
export function clockTimeFor(emu: Emulator, customerId: string): number | undefined {
  const c = emu.store.get<Stripe.Customer>(C.customer, customerId);
  const clockId = c ? idOf(c.test_clock) : null;
  if (!clockId) return undefined;
  return emu.store.get<Clock>(C.testClock, clockId)?.frozen_time;
}

/** Pending advances per emulator, so tests and shutdown can wait for them. */
const running = new WeakMap<Emulator, Set<Promise<void>>>();

export function pendingAdvances(emu: Emulator): Promise<void> {
  return Promise.all([...(running.get(emu) ?? [])]).then(() => undefined);
}

function advance(req: ApiRequest): Clock {
  const { emu, p } = req;
  const clock = requireClock(emu, req.pathParams.id);
  const target = p.reqInt('frozen_time');
  if (clock.status === 'advancing') {
    throw invalidRequest('The test clock is already advancing.', undefined, 'test_clock_advancing');
  }
  if (target <= clock.frozen_time) {
    throw invalidRequest(
      'The frozen_time must be after the current frozen_time of the test clock.',
      'frozen_time',
    );
  }
  const { obj, previous } = emu.store.update<Clock>(C.testClock, clock.id, (c) => {
    c.status = 'advancing';
    c.status_details = { advancing: { target_frozen_time: target } };
  });
  emit(emu, 'test_helpers.test_clock.advancing', obj, previous);
  const set = running.get(emu) ?? new Set<Promise<void>>();
  running.set(emu, set);
  const job: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
    .then(() =>
      emu.timeDriven(() => {
        const onClock = (customerId: string): boolean => {
          const c = emu.store.get<Stripe.Customer>(C.customer, customerId);
          return c !== undefined && idOf(c.test_clock) === clock.id;
        };
        try {
          runDue(emu, onClock, target);
          const done = emu.store.update<Clock>(C.testClock, clock.id, (c) => {
            c.frozen_time = target;
            c.status = 'ready';
            c.status_details = {};
          });
          emit(emu, 'test_helpers.test_clock.ready', done.obj, done.previous);
        } catch (err) {
          emu.log(`test clock ${clock.id} failed to advance: ${String(err)}`);
          const failed = emu.store.update<Clock>(C.testClock, clock.id, (c) => {
            c.status = 'internal_failure';
          });
          emit(emu, 'test_helpers.test_clock.internal_failure', failed.obj, failed.previous);
        }
      }),
    )
    .finally(() => set.delete(job));
  set.add(job);
  return obj;
}

/**
 * After a reload from `--data`, a clock saved mid-advance finishes its advance (the job that was
 * running did not survive the restart).
 */
export function finishInterruptedAdvances(emu: Emulator): void {
  for (const clock of emu.store.all<Clock>(C.testClock)) {
    const target = clock.status_details?.advancing?.target_frozen_time;
    if (clock.status !== 'advancing' || target === undefined) continue;
    emu.timeDriven(() => {
      runDue(
        emu,
        (customerId) =>
          idOf(emu.store.get<Stripe.Customer>(C.customer, customerId)?.test_clock ?? null) === clock.id,
        target,
      );
      const done = emu.store.update<Clock>(C.testClock, clock.id, (c) => {
        c.frozen_time = target;
        c.status = 'ready';
        c.status_details = {};
      });
      emit(emu, 'test_helpers.test_clock.ready', done.obj, done.previous);
    });
  }
}

function create(req: ApiRequest): Clock {
  const { emu, p } = req;
  const frozen = p.reqInt('frozen_time');
  const created = emu.now();
  const clock: Clock = {
    id: id('clock'),
    object: 'test_helpers.test_clock',
    created,
    deletes_after: created + 30 * 86_400,
    frozen_time: frozen,
    livemode: false,
    name: p.str('name') ?? null,
    status: 'ready',
    status_details: {},
  };
  emu.store.insert(C.testClock, clock);
  emit(emu, 'test_helpers.test_clock.created', clock);
  return clock;
}

function remove(req: ApiRequest): unknown {
  const { emu } = req;
  const clock = requireClock(emu, req.pathParams.id);
  for (const c of emu.store.all<Stripe.Customer>(C.customer)) {
    if (idOf(c.test_clock) !== clock.id) continue;
    for (const sub of emu.store.all<Stripe.Subscription>(C.subscription)) {
      if (idOf(sub.customer) === c.id) emu.store.delete(C.subscription, sub.id);
    }
    emu.store.delete(C.customer, c.id);
  }
  emu.store.delete(C.testClock, clock.id);
  emit(emu, 'test_helpers.test_clock.deleted', clock);
  return { id: clock.id, object: 'test_helpers.test_clock', deleted: true };
}

export const routes: Route[] = [
  { method: 'POST', path: '/v1/test_helpers/test_clocks', handler: create, params: ACCEPTED.testClockCreate },
  {
    method: 'GET',
    path: '/v1/test_helpers/test_clocks',
    handler: (req) => paginate(req.emu.store.all<Clock>(C.testClock), req.p, req.path),
  },
  {
    method: 'GET',
    path: '/v1/test_helpers/test_clocks/:id',
    handler: (req) => requireClock(req.emu, req.pathParams.id),
  },
  { method: 'DELETE', path: '/v1/test_helpers/test_clocks/:id', handler: remove },
  {
    method: 'POST',
    path: '/v1/test_helpers/test_clocks/:id/advance',
    handler: advance,
    params: ACCEPTED.testClockAdvance,
  },
];
