import { createHash } from 'node:crypto';
import type Stripe from 'stripe';
import type { Emulator } from '../core/emulator';
import { invalidRequest, missingParam, StripeApiError } from '../core/errors';
import { type ApiRequest, HttpResponse, type Route } from '../core/http';
import { newId, randomBase62 } from '../core/ids';
import { paginate } from '../core/list';
import type { ParamReader } from '../core/params';

import { meterForEvent, requireMeter } from './meters';
import { COLLECTIONS } from '../core/collections';

/** A recorded usage event (private: Stripe has no API to read events back). */
export interface StoredMeterEvent {
  id: string;
  event_name: string;
  identifier: string;
  payload: Record<string, string>;
  /** Usage time (unix s), what periods are summed by. */
  timestamp: number;
  created: number;
  cancelled: boolean;
}

/** Stripe keeps identifiers at least 24 h for de-duplication; we keep them for good. */

/**
 * What Stripe answers for an identifier it already holds: a 400 `invalid_request_error` with no `code`,
 * marked not retryable. Wording and header as integrators recorded them from the live API
 * (langfuse/langfuse PR 16292: "An event already exists with identifier <id>.", `stripe-should-retry: false`);
 * https://docs.stripe.com/api/billing/meter-event/create: identifiers are unique for at least 24 hours.
 */
function duplicateIdentifier(identifier: string): StripeApiError {
  return new StripeApiError(
    400,
    { type: 'invalid_request_error', message: `An event already exists with identifier ${identifier}.` },
    { 'Stripe-Should-Retry': 'false' },
  );
}

const PAST_LIMIT = 35 * 24 * 3600;
const FUTURE_LIMIT = 5 * 60;

interface MeterEventInput {
  event_name: string;
  payload: Record<string, string>;
  identifier?: string;
  timestamp?: number;
}

/** Records one meter event after Stripe's synchronous checks; returns the stored record. */
export function recordMeterEvent(
  emulator: Emulator,
  input: MeterEventInput,
  paramPrefix = '',
): StoredMeterEvent {
  const name = (k: string): string => (paramPrefix ? `${paramPrefix}[${k}]` : k);
  const meter = meterForEvent(emulator, input.event_name);
  const customerKey = meter?.customer_mapping.event_payload_key ?? 'stripe_customer_id';
  const customer = input.payload[customerKey];
  const now = emulator.now(customer);
  const timestamp = input.timestamp ?? now;
  if (timestamp < now - PAST_LIMIT || timestamp > now + FUTURE_LIMIT) {
    throw invalidRequest(
      'The timestamp must be within the past 35 days and no more than 5 minutes in the future.',
      name('timestamp'),
      'timestamp_outside_window',
    );
  }
  const identifier = input.identifier ?? randomBase62(24);
  // An index keyed by identifier keeps de-duplication O(1) under load.
  if (emulator.store.get(COLLECTIONS.meterEventIdentifier, identifier)) throw duplicateIdentifier(identifier);
  const ev: StoredMeterEvent = {
    id: newId('mev'),
    event_name: input.event_name,
    identifier,
    payload: input.payload,
    timestamp,
    created: now,
    cancelled: false,
  };
  emulator.store.insert(COLLECTIONS.meterEvent, ev);
  emulator.store.insert(COLLECTIONS.meterEventIdentifier, { id: identifier, event: ev.id });
  return ev;
}

function readPayload(input: ParamReader): Record<string, string> {
  const payload = input.obj('payload');
  if (!payload) throw missingParam('payload');
  const out: Record<string, string> = {};
  for (const k of Object.keys(payload.raw)) out[k] = payload.reqStr(k);
  return out;
}

/** Cancels the events with `identifier` (meter event adjustment `type=cancel`). */
function cancelMeterEvent(emulator: Emulator, eventName: string, identifier: string): void {
  for (const e of emulator.store.all(COLLECTIONS.meterEvent)) {
    if (e.identifier === identifier && e.event_name === eventName) {
      e.cancelled = true;
      emulator.store.put(COLLECTIONS.meterEvent, e);
    }
  }
}

/**
 * Usage of `customerId` on `meterId` for `start ≤ timestamp < end`, aggregated by the meter's
 * formula: `sum` of values, `count` of events, or `last` value (latest timestamp).
 */
export function meterUsage(
  emulator: Emulator,
  meterId: string,
  customerId: string,
  start: number,
  end: number,
): number {
  const meter = emulator.store.get(COLLECTIONS.meter, meterId);
  if (!meter) return 0;
  const ckey = meter.customer_mapping.event_payload_key;
  const vkey = meter.value_settings.event_payload_key;
  const events = emulator.store
    .all(COLLECTIONS.meterEvent)
    .filter(
      (e) =>
        !e.cancelled &&
        e.event_name === meter.event_name &&
        e.payload[ckey] === customerId &&
        e.timestamp >= start &&
        e.timestamp < end,
    );
  const value = (e: StoredMeterEvent): number => {
    const n = Number(e.payload[vkey]);
    return Number.isFinite(n) ? n : 0;
  };
  switch (meter.default_aggregation.formula) {
    case 'count':
      return events.length;
    case 'last': {
      if (events.length === 0) return 0;
      // `all` is newest-created first; the latest timestamp wins, then the latest received.
      const latest = [...events].sort((a, b) => b.timestamp - a.timestamp)[0];
      return value(latest);
    }
    default:
      return events.reduce((s, e) => s + value(e), 0);
  }
}

function summaries(req: ApiRequest): unknown {
  const { emulator, input, pathParams } = req;
  const meter = requireMeter(emulator, pathParams.id);
  const customer = input.reqStr('customer');
  const start = input.reqInt('start_time');
  const end = input.reqInt('end_time');
  if (end <= start) throw invalidRequest('end_time must be after start_time.', 'end_time');
  const windowParam = input.oneOf('value_grouping_window', ['hour', 'day'] as const);
  const step = windowParam === 'hour' ? 3600 : windowParam === 'day' ? 86400 : 60;
  // Stripe requires times aligned to the grouping window (minutes without one).
  if (start % step !== 0)
    throw invalidRequest(
      `start_time must be aligned to the ${windowParam ?? 'minute'} boundary.`,
      'start_time',
    );
  if (end % step !== 0)
    throw invalidRequest(`end_time must be aligned to the ${windowParam ?? 'minute'} boundary.`, 'end_time');
  const windows: [number, number][] = [];
  if (windowParam) for (let t = start; t < end; t += step) windows.push([t, Math.min(end, t + step)]);
  else windows.push([start, end]);
  const data: Stripe.Billing.MeterEventSummary[] = windows
    .map(([s, e]) => ({
      id: `mtrusg_${createHash('sha256').update(`${meter.id}:${customer}:${s}:${e}`).digest('hex').slice(0, 24)}`,
      object: 'billing.meter_event_summary' as const,
      aggregated_value: meterUsage(emulator, meter.id, customer, s, e),
      end_time: e,
      livemode: false,
      meter: meter.id,
      start_time: s,
    }))
    .reverse();
  return paginate(data, input, req.path);
}

function isoToUnix(v: string | undefined, param: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw invalidRequest(`Invalid timestamp: ${v}`, param);
  return Math.floor(ms / 1000);
}

export const routes: Route[] = [
  {
    method: 'POST',
    path: '/v1/billing/meter_events',
    params: ['event_name', 'payload', 'identifier', 'timestamp'],
    handler: ({ emulator, input }): Stripe.Billing.MeterEvent => {
      const ev = recordMeterEvent(emulator, {
        event_name: input.reqStr('event_name'),
        payload: readPayload(input),
        identifier: input.str('identifier'),
        timestamp: input.int('timestamp'),
      });
      return {
        object: 'billing.meter_event',
        created: ev.created,
        event_name: ev.event_name,
        identifier: ev.identifier,
        livemode: false,
        payload: ev.payload,
        timestamp: ev.timestamp,
      };
    },
  },
  {
    method: 'POST',
    path: '/v1/billing/meter_event_adjustments',
    params: ['event_name', 'type', 'cancel'],
    handler: ({ emulator, input }): Stripe.Billing.MeterEventAdjustment => {
      const event_name = input.reqStr('event_name');
      const type = input.oneOf('type', ['cancel'] as const) ?? 'cancel';
      const identifier = input.obj('cancel')?.str('identifier');
      if (!identifier) throw missingParam('cancel[identifier]');
      cancelMeterEvent(emulator, event_name, identifier);
      return {
        object: 'billing.meter_event_adjustment',
        cancel: { identifier },
        event_name,
        livemode: false,
        status: 'pending',
        type,
      };
    },
  },
  {
    method: 'GET',
    path: '/v1/billing/meters/:id/event_summaries',
    params: [
      'customer',
      'end_time',
      'start_time',
      'value_grouping_window',
      'limit',
      'starting_after',
      'ending_before',
    ],
    handler: summaries,
  },
  {
    // v2: JSON body, ISO-8601 times.
    method: 'POST',
    path: '/v2/billing/meter_events',
    params: ['event_name', 'payload', 'identifier', 'timestamp'],
    handler: ({ emulator, input }) => {
      const ev = recordMeterEvent(emulator, {
        event_name: input.reqStr('event_name'),
        payload: readPayload(input),
        identifier: input.str('identifier'),
        timestamp: isoToUnix(input.str('timestamp'), 'timestamp'),
      });
      return {
        object: 'v2.billing.meter_event',
        created: new Date(ev.created * 1000).toISOString(),
        event_name: ev.event_name,
        identifier: ev.identifier,
        livemode: false,
        payload: ev.payload,
        timestamp: new Date(ev.timestamp * 1000).toISOString(),
      };
    },
  },
  {
    method: 'POST',
    path: '/v2/billing/meter_event_adjustments',
    params: ['event_name', 'type', 'cancel'],
    handler: ({ emulator, input }) => {
      const event_name = input.reqStr('event_name');
      const identifier = input.obj('cancel')?.str('identifier');
      if (!identifier) throw missingParam('cancel.identifier');
      cancelMeterEvent(emulator, event_name, identifier);
      return {
        id: newId('mtradj'),
        object: 'v2.billing.meter_event_adjustment',
        cancel: { identifier },
        created: new Date(emulator.now() * 1000).toISOString(),
        event_name,
        livemode: false,
        status: 'pending',
        type: 'cancel',
      };
    },
  },
  {
    // Sessions authenticate the high-throughput stream; the token is not checked here.
    method: 'POST',
    path: '/v2/billing/meter_event_session',
    handler: ({ emulator }) => ({
      id: newId('mes'),
      object: 'v2.billing.meter_event_session',
      authentication_token: newId('mes_token', 32),
      created: new Date(emulator.now() * 1000).toISOString(),
      expires_at: new Date((emulator.now() + 900) * 1000).toISOString(),
      livemode: false,
    }),
  },
  {
    // Stripe serves this on meter-events.stripe.com; point the SDK's host there to use it.
    method: 'POST',
    path: '/v2/billing/meter_event_stream',
    handler: ({ emulator, input }) => {
      const events = input.objArray('events') ?? [];
      for (const [i, e] of events.entries()) {
        recordMeterEvent(
          emulator,
          {
            event_name: e.reqStr('event_name'),
            payload: readPayload(e),
            identifier: e.str('identifier'),
            timestamp: isoToUnix(e.str('timestamp'), `events[${i}][timestamp]`),
          },
          `events[${i}]`,
        );
      }
      return HttpResponse.json(202, {});
    },
  },
];

declare module '../core/collections' {
  interface CollectionRecords {
    _meter_event: StoredMeterEvent;
    _meter_event_identifier: { id: string; event: string };
  }
}
