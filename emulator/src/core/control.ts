import { invalidRequest } from './errors';
import { HttpResponse, type Route } from './http';
import { DEFAULT_MODE, type WebhookMode } from './webhooks';
import { COLLECTIONS } from './collections';

/** `/_emulator/*`: controls that real Stripe does not have (no API key needed). */

function num(v: unknown, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw invalidRequest(`${name} must be a number`, name);
  return n;
}

function bool(v: unknown): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  return v === true || v === 'true' || v === '1';
}

export const routes: Route[] = [
  {
    // Readiness probe for scripts that start the emulator.
    method: 'GET',
    path: '/_emulator/health',
    handler: ({ emulator }) => ({ ok: true, api_version: emulator.apiVersion, now: emulator.now() }),
  },
  {
    method: 'POST',
    path: '/_emulator/reset',
    handler: ({ emulator }) => {
      emulator.reset();
      return { ok: true };
    },
  },
  {
    method: 'GET',
    path: '/_emulator/clock',
    handler: ({ emulator }) => ({
      now: emulator.now(),
      offset: emulator.clock.offset,
      real_now: emulator.clock.realNow(),
    }),
  },
  {
    // Body: `seconds` (relative) or `to` (absolute unix seconds). Runs what time brings.
    method: 'POST',
    path: '/_emulator/clock/advance',
    handler: async ({ emulator, input }) => {
      const seconds = input.int('seconds');
      const to = input.int('to');
      if (seconds === undefined && to === undefined) throw invalidRequest('give seconds or to', 'seconds');
      if (seconds !== undefined && seconds < 0)
        throw invalidRequest('the clock only moves forward', 'seconds');
      const target = to ?? emulator.now() + (seconds ?? 0);
      if (target < emulator.now()) throw invalidRequest('the clock only moves forward', 'to');
      const w = await emulator.advanceClockTo(target);
      return { from: w.from, to: w.to, now: emulator.now(), offset: emulator.clock.offset };
    },
  },
  {
    method: 'GET',
    path: '/_emulator/faults',
    handler: ({ emulator }) => ({ rules: emulator.faults.rules }),
  },
  {
    method: 'POST',
    path: '/_emulator/faults',
    handler: ({ emulator, params }) => ({ rule: emulator.faults.add(params), rules: emulator.faults.rules }),
  },
  {
    method: 'DELETE',
    path: '/_emulator/faults',
    handler: ({ emulator }) => {
      emulator.faults.clear();
      return { rules: [] };
    },
  },
  {
    method: 'GET',
    path: '/_emulator/webhooks/mode',
    handler: ({ emulator }) => emulator.webhooks.mode,
  },
  {
    // Any subset of WebhookMode; `reset=true` restores the defaults first.
    method: 'POST',
    path: '/_emulator/webhooks/mode',
    handler: ({ emulator, params, input }) => {
      const base: WebhookMode = bool(params.reset) ? { ...DEFAULT_MODE } : { ...emulator.webhooks.mode };
      const order = input.oneOf('order', ['in_order', 'reverse', 'shuffle'] as const);
      if (order) base.order = order;
      const window = num(params.window, 'window');
      if (window !== undefined) base.window = Math.max(1, Math.floor(window));
      const windowMs = num(params.window_ms, 'window_ms');
      if (windowMs !== undefined) base.window_ms = windowMs;
      const twice = bool(params.twice);
      if (twice !== undefined) base.twice = twice;
      const concurrent = bool(params.concurrent);
      if (concurrent !== undefined) base.concurrent = concurrent;
      const timeout = num(params.timeout_ms, 'timeout_ms');
      if (timeout !== undefined) base.timeout_ms = timeout;
      const schedule = input.strArray('retry_schedule_ms');
      if (schedule) base.retry_schedule_ms = schedule.map((s) => num(s, 'retry_schedule_ms') ?? 0);
      emulator.webhooks.mode = base;
      return base;
    },
  },
  {
    // Waits until every queued delivery has succeeded or given up (or `timeout_ms`, default 10 s).
    method: 'POST',
    path: '/_emulator/webhooks/flush',
    handler: async ({ emulator, params }) => {
      const settled = await emulator.webhooks.flush(num(params.timeout_ms, 'timeout_ms') ?? 10000);
      return HttpResponse.json(settled ? 200 : 408, { settled, pending: emulator.webhooks.pendingCounts() });
    },
  },
  {
    // Delivery attempts, oldest first; filter with `event`, `endpoint`, `type`.
    method: 'GET',
    path: '/_emulator/webhooks/deliveries',
    handler: ({ emulator, input }) => {
      const event = input.str('event');
      const endpoint = input.str('endpoint');
      const type = input.str('type');
      const data = emulator.store
        .all(COLLECTIONS.webhookDelivery)
        .reverse()
        .filter(
          (d) =>
            (!event || d.event === event) &&
            (!endpoint || d.endpoint === endpoint) &&
            (!type || d.event_type === type),
        )
        .sort((a, b) => a.at - b.at);
      return { object: 'list', data, pending: emulator.webhooks.pendingCounts() };
    },
  },
];
