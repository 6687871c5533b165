import type Stripe from 'stripe';
import type { Emulator } from '../core/emulator';
import { invalidRequest, missingParam } from '../core/errors';
import type { ApiRequest, Route } from '../core/http';
import { newId } from '../core/ids';
import { paginate } from '../core/list';
import { COLLECTIONS } from '../core/collections';

const FORMULAS = ['sum', 'count', 'last'] as const;

export function requireMeter(emulator: Emulator, id: string, param = 'id'): Stripe.Billing.Meter {
  return emulator.store.require(COLLECTIONS.meter, id, 'billing meter', param);
}

/** The active meter fed by events named `eventName`, if any. */
export function meterForEvent(emulator: Emulator, eventName: string): Stripe.Billing.Meter | undefined {
  return emulator.store
    .all(COLLECTIONS.meter)
    .find((m) => m.event_name === eventName && m.status === 'active');
}

function create({ emulator, input }: ApiRequest): Stripe.Billing.Meter {
  const display_name = input.reqStr('display_name');
  const event_name = input.reqStr('event_name');
  const agg = input.obj('default_aggregation');
  if (!agg) throw missingParam('default_aggregation');
  const formula = agg.oneOf('formula', FORMULAS);
  if (!formula) throw missingParam('default_aggregation[formula]');
  if (meterForEvent(emulator, event_name)) {
    throw invalidRequest(
      `An active meter with event_name '${event_name}' already exists.`,
      'event_name',
      'resource_already_exists',
    );
  }
  const cm = input.obj('customer_mapping');
  const vs = input.obj('value_settings');
  const now = emulator.now();
  const meter: Stripe.Billing.Meter = {
    id: newId('mtr_test'),
    object: 'billing.meter',
    created: now,
    customer_mapping: {
      event_payload_key: cm?.str('event_payload_key') ?? 'stripe_customer_id',
      type: 'by_id',
    },
    default_aggregation: { formula },
    display_name,
    event_name,
    event_time_window: input.oneOf('event_time_window', ['day', 'hour'] as const) ?? null,
    livemode: false,
    status: 'active',
    status_transitions: { deactivated_at: null },
    updated: now,
    value_settings: { event_payload_key: vs?.str('event_payload_key') ?? 'value' },
  };
  emulator.store.insert(COLLECTIONS.meter, meter);
  emulator.emitEvent('billing.meter.created', meter);
  return meter;
}

function setStatus(emulator: Emulator, id: string, active: boolean): Stripe.Billing.Meter {
  const m = requireMeter(emulator, id);
  if (active && m.status === 'active') throw invalidRequest('This meter is already active.', undefined);
  if (!active && m.status === 'inactive') throw invalidRequest('This meter is already inactive.', undefined);
  if (active && meterForEvent(emulator, m.event_name)) {
    throw invalidRequest(`An active meter with event_name '${m.event_name}' already exists.`, undefined);
  }
  const { obj, previous } = emulator.store.update(COLLECTIONS.meter, id, (x) => {
    const now = emulator.now();
    x.status = active ? 'active' : 'inactive';
    x.status_transitions = { deactivated_at: active ? null : now };
    x.updated = now;
  });
  emulator.emitEvent(active ? 'billing.meter.reactivated' : 'billing.meter.deactivated', obj, previous);
  return obj;
}

export const routes: Route[] = [
  {
    method: 'POST',
    path: '/v1/billing/meters',
    params: [
      'default_aggregation',
      'display_name',
      'event_name',
      'customer_mapping',
      'event_time_window',
      'value_settings',
    ],
    handler: create,
  },
  {
    method: 'GET',
    path: '/v1/billing/meters',
    params: ['status', 'limit', 'starting_after', 'ending_before'],
    handler: (req) => {
      const status = req.input.oneOf('status', ['active', 'inactive'] as const);
      const items = req.emulator.store.all(COLLECTIONS.meter).filter((m) => !status || m.status === status);
      return paginate(items, req.input, req.path);
    },
  },
  {
    method: 'GET',
    path: '/v1/billing/meters/:id',
    params: [],
    handler: ({ emulator, pathParams }) => requireMeter(emulator, pathParams.id),
  },
  {
    method: 'POST',
    path: '/v1/billing/meters/:id',
    params: ['display_name'],
    handler: ({ emulator, input, pathParams }) => {
      requireMeter(emulator, pathParams.id);
      const { obj, previous } = emulator.store.update(COLLECTIONS.meter, pathParams.id, (m) => {
        if (input.has('display_name')) m.display_name = input.reqStr('display_name');
      });
      if (Object.keys(previous).length > 0) {
        obj.updated = emulator.now();
        emulator.emitEvent('billing.meter.updated', obj, previous);
      }
      return obj;
    },
  },
  {
    method: 'POST',
    path: '/v1/billing/meters/:id/deactivate',
    params: [],
    handler: ({ emulator, pathParams }) => setStatus(emulator, pathParams.id, false),
  },
  {
    method: 'POST',
    path: '/v1/billing/meters/:id/reactivate',
    params: [],
    handler: ({ emulator, pathParams }) => setStatus(emulator, pathParams.id, true),
  },
];
