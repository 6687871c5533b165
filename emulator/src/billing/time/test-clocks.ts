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
import { type Emulator, emit, id, idOf } from '../context';
import { runDue } from './engine';
import { COLLECTIONS } from '../../core/collections';

type Clock = Stripe.TestHelpers.TestClock;

function requireClock(emulator: Emulator, clockId: string): Clock {
  return emulator.store.require(COLLECTIONS.testClock, clockId, 'test_clock');
}

/** Time source: a customer on a clock lives at its frozen time. */
export function clockTimeFor(emulator: Emulator, customerId: string): number | undefined {
  const c = emulator.store.get(COLLECTIONS.customer, customerId);
  const clockId = c ? idOf(c.test_clock) : null;
  if (!clockId) return undefined;
  return emulator.store.get(COLLECTIONS.testClock, clockId)?.frozen_time;
}

/** Pending advances per emulator, so tests and shutdown can wait for them. */
const running = new WeakMap<Emulator, Set<Promise<void>>>();

function advance(req: ApiRequest): Clock {
  const { emulator, input } = req;
  const clock = requireClock(emulator, req.pathParams.id);
  const target = input.reqInt('frozen_time');
  if (clock.status === 'advancing') {
    throw invalidRequest('The test clock is already advancing.', undefined, 'test_clock_advancing');
  }
  if (target <= clock.frozen_time) {
    throw invalidRequest(
      'The frozen_time must be after the current frozen_time of the test clock.',
      'frozen_time',
    );
  }
  const { obj, previous } = emulator.store.update(COLLECTIONS.testClock, clock.id, (c) => {
    c.status = 'advancing';
    c.status_details = { advancing: { target_frozen_time: target } };
  });
  emit(emulator, 'test_helpers.test_clock.advancing', obj, previous);
  const set = running.get(emulator) ?? new Set<Promise<void>>();
  running.set(emulator, set);
  const job: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
    .then(() =>
      emulator.timeDriven(() => {
        const onClock = (customerId: string): boolean => {
          const c = emulator.store.get(COLLECTIONS.customer, customerId);
          return c !== undefined && idOf(c.test_clock) === clock.id;
        };
        try {
          runDue(emulator, onClock, target);
          const done = emulator.store.update(COLLECTIONS.testClock, clock.id, (c) => {
            c.frozen_time = target;
            c.status = 'ready';
            c.status_details = {};
          });
          emit(emulator, 'test_helpers.test_clock.ready', done.obj, done.previous);
        } catch (err) {
          emulator.log(`test clock ${clock.id} failed to advance: ${String(err)}`);
          const failed = emulator.store.update(COLLECTIONS.testClock, clock.id, (c) => {
            c.status = 'internal_failure';
          });
          emit(emulator, 'test_helpers.test_clock.internal_failure', failed.obj, failed.previous);
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
export function finishInterruptedAdvances(emulator: Emulator): void {
  for (const clock of emulator.store.all(COLLECTIONS.testClock)) {
    const target = clock.status_details?.advancing?.target_frozen_time;
    if (clock.status !== 'advancing' || target === undefined) continue;
    emulator.timeDriven(() => {
      runDue(
        emulator,
        (customerId) =>
          idOf(emulator.store.get(COLLECTIONS.customer, customerId)?.test_clock ?? null) === clock.id,
        target,
      );
      const done = emulator.store.update(COLLECTIONS.testClock, clock.id, (c) => {
        c.frozen_time = target;
        c.status = 'ready';
        c.status_details = {};
      });
      emit(emulator, 'test_helpers.test_clock.ready', done.obj, done.previous);
    });
  }
}

function create(req: ApiRequest): Clock {
  const { emulator, input } = req;
  const frozen = input.reqInt('frozen_time');
  const created = emulator.now();
  const clock: Clock = {
    id: id('clock'),
    object: 'test_helpers.test_clock',
    created,
    deletes_after: created + 30 * 86_400,
    frozen_time: frozen,
    livemode: false,
    name: input.str('name') ?? null,
    status: 'ready',
    status_details: {},
  };
  emulator.store.insert(COLLECTIONS.testClock, clock);
  emit(emulator, 'test_helpers.test_clock.created', clock);
  return clock;
}

function remove(req: ApiRequest): unknown {
  const { emulator } = req;
  const clock = requireClock(emulator, req.pathParams.id);
  for (const c of emulator.store.all(COLLECTIONS.customer)) {
    if (idOf(c.test_clock) !== clock.id) continue;
    for (const subscription of emulator.store.all(COLLECTIONS.subscription)) {
      if (idOf(subscription.customer) === c.id)
        emulator.store.delete(COLLECTIONS.subscription, subscription.id);
    }
    emulator.store.delete(COLLECTIONS.customer, c.id);
  }
  emulator.store.delete(COLLECTIONS.testClock, clock.id);
  emit(emulator, 'test_helpers.test_clock.deleted', clock);
  return { id: clock.id, object: 'test_helpers.test_clock', deleted: true };
}

export const routes: Route[] = [
  { method: 'POST', path: '/v1/test_helpers/test_clocks', handler: create, params: ACCEPTED.testClockCreate },
  {
    method: 'GET',
    path: '/v1/test_helpers/test_clocks',
    handler: (req) => paginate(req.emulator.store.all(COLLECTIONS.testClock), req.input, req.path),
  },
  {
    method: 'GET',
    path: '/v1/test_helpers/test_clocks/:id',
    handler: (req) => requireClock(req.emulator, req.pathParams.id),
  },
  { method: 'DELETE', path: '/v1/test_helpers/test_clocks/:id', handler: remove },
  {
    method: 'POST',
    path: '/v1/test_helpers/test_clocks/:id/advance',
    handler: advance,
    params: ACCEPTED.testClockAdvance,
  },
];
