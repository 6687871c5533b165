/** Billing meters, meter events (v1 and v2), adjustments, summaries and meterUsage. */
import Stripe from 'stripe';
import { meterUsage } from '../src/resources/meter-events';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';

let emulator: TestEmulator;
let stripe: Stripe;
useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

async function meter(formula: 'sum' | 'count' | 'last', eventName = `ev_${formula}`) {
  return stripe.billing.meters.create({
    display_name: formula,
    event_name: eventName,
    default_aggregation: { formula },
  });
}

test('meter CRUD: defaults, update, deactivate/reactivate, list by status', async () => {
  const m = await meter('sum');
  expect(m).toMatchObject({
    object: 'billing.meter',
    status: 'active',
    customer_mapping: { type: 'by_id', event_payload_key: 'stripe_customer_id' },
    value_settings: { event_payload_key: 'value' },
    default_aggregation: { formula: 'sum' },
  });
  expect((await stripe.billing.meters.update(m.id, { display_name: 'Renamed' })).display_name).toBe(
    'Renamed',
  );
  const off = await stripe.billing.meters.deactivate(m.id);
  expect(off.status).toBe('inactive');
  expect(off.status_transitions.deactivated_at).toEqual(expect.any(Number));
  expect((await stripe.billing.meters.list({ status: 'inactive' })).data.map((x) => x.id)).toEqual([m.id]);
  expect((await stripe.billing.meters.reactivate(m.id)).status).toBe('active');
  await expect(meter('sum')).rejects.toMatchObject({ statusCode: 400 }); // same event_name, still active
  const types = (await stripe.events.list()).data.map((e) => e.type);
  expect(types).toEqual([
    'billing.meter.reactivated',
    'billing.meter.deactivated',
    'billing.meter.updated',
    'billing.meter.created',
  ]);
});

test('events aggregate per formula over [start, end); identifiers dedupe; cancel by identifier', async () => {
  const c = await stripe.customers.create({});
  const other = await stripe.customers.create({});
  const sum = await meter('sum', 'tokens');
  const now = emulator.emulator.now();
  const send = (value: string, ts: number, identifier?: string, customer = c.id) =>
    stripe.billing.meterEvents.create({
      event_name: 'tokens',
      payload: { stripe_customer_id: customer, value },
      timestamp: ts,
      identifier,
    });
  await send('10', now - 100, 'id-1');
  await send('5', now - 50);
  await send('7', now - 10, 'id-3');
  await send('1000', now - 10, undefined, other.id);
  expect(meterUsage(emulator.emulator, sum.id, c.id, now - 200, now)).toBe(22);
  expect(meterUsage(emulator.emulator, sum.id, c.id, now - 100, now - 10)).toBe(15); // end is exclusive
  await expect(send('1', now, 'id-1')).rejects.toMatchObject({ statusCode: 400 });
  const adj = await stripe.billing.meterEventAdjustments.create({
    event_name: 'tokens',
    type: 'cancel',
    cancel: { identifier: 'id-3' },
  });
  expect(adj).toMatchObject({ object: 'billing.meter_event_adjustment', status: 'pending' });
  expect(meterUsage(emulator.emulator, sum.id, c.id, now - 200, now + 1)).toBe(15);

  const count = await meter('count', 'logins');
  const last = await meter('last', 'seats');
  for (const v of ['3', '9', '4']) {
    await stripe.billing.meterEvents.create({ event_name: 'logins', payload: { stripe_customer_id: c.id } });
    await stripe.billing.meterEvents.create({
      event_name: 'seats',
      payload: { stripe_customer_id: c.id, value: v },
    });
  }
  expect(meterUsage(emulator.emulator, count.id, c.id, now - 60, now + 60)).toBe(3);
  expect(meterUsage(emulator.emulator, last.id, c.id, now - 60, now + 60)).toBe(4);
});

test('timestamp window: 35 days back, 5 minutes ahead (emulator clock)', async () => {
  await meter('sum', 'w');
  const now = emulator.emulator.now();
  const send = (ts: number) =>
    stripe.billing.meterEvents.create({
      event_name: 'w',
      payload: { stripe_customer_id: 'cus_x', value: '1' },
      timestamp: ts,
    });
  await expect(send(now - 36 * 86400)).rejects.toMatchObject({ statusCode: 400, param: 'timestamp' });
  await expect(send(now + 600)).rejects.toMatchObject({ statusCode: 400 });
  await expect(send(now - 34 * 86400)).resolves.toMatchObject({ object: 'billing.meter_event' });
  await emulator.control('/_emulator/clock/advance', { seconds: 3600 });
  await expect(send(now + 600)).resolves.toMatchObject({ timestamp: now + 600 });
});

test('event summaries, whole range and by hour', async () => {
  const c = await stripe.customers.create({});
  const m = await meter('sum', 'api');
  const hour = Math.floor(emulator.emulator.now() / 3600) * 3600 - 3 * 3600;
  for (const [offset, v] of [
    [10, '1'],
    [3600 + 5, '2'],
    [3600 + 6, '3'],
  ] as const) {
    await stripe.billing.meterEvents.create({
      event_name: 'api',
      payload: { stripe_customer_id: c.id, value: v },
      timestamp: hour + offset,
    });
  }
  const whole = await stripe.billing.meters.listEventSummaries(m.id, {
    customer: c.id,
    start_time: hour,
    end_time: hour + 3 * 3600,
  });
  expect(whole.data.map((s) => s.aggregated_value)).toEqual([6]);
  expect(whole.data[0]).toMatchObject({
    object: 'billing.meter_event_summary',
    meter: m.id,
    start_time: hour,
  });
  const hourly = await stripe.billing.meters.listEventSummaries(m.id, {
    customer: c.id,
    start_time: hour,
    end_time: hour + 3 * 3600,
    value_grouping_window: 'hour',
  });
  expect(hourly.data.map((s) => [s.start_time - hour, s.aggregated_value])).toEqual([
    [7200, 0],
    [3600, 5],
    [0, 1],
  ]);
  await expect(
    stripe.billing.meters.listEventSummaries(m.id, {
      customer: c.id,
      start_time: hour + 1,
      end_time: hour + 3600,
    }),
  ).rejects.toMatchObject({ statusCode: 400 });
});

test('v2 meter events (JSON, ISO timestamps) and v2 adjustments', async () => {
  const c = await stripe.customers.create({});
  const m = await meter('sum', 'v2ev');
  const now = emulator.emulator.now();
  const ev = await stripe.v2.billing.meterEvents.create({
    event_name: 'v2ev',
    payload: { stripe_customer_id: c.id, value: '12' },
    identifier: 'v2-1',
    timestamp: new Date((now - 30) * 1000).toISOString(),
  });
  expect(ev.object).toBe('v2.billing.meter_event');
  expect(ev.identifier).toBe('v2-1');
  expect(meterUsage(emulator.emulator, m.id, c.id, now - 60, now + 1)).toBe(12);
  await stripe.v2.billing.meterEventAdjustments.create({
    event_name: 'v2ev',
    type: 'cancel',
    cancel: { identifier: 'v2-1' },
  });
  expect(meterUsage(emulator.emulator, m.id, c.id, now - 60, now + 1)).toBe(0);
});

test("a duplicate identifier is Stripe's 400: no code, the recorded wording, Stripe-Should-Retry: false", async () => {
  const c = await stripe.customers.create({});
  const m = await meter('sum', 'dup');
  const body = `event_name=dup&identifier=usage-42&payload[stripe_customer_id]=${c.id}&payload[value]=3`;
  const first = await emulator.raw('POST', '/v1/billing/meter_events', { body });
  expect(first.status).toBe(200);
  const again = await emulator.raw('POST', '/v1/billing/meter_events', {
    body: body.replace('value]=3', 'value]=4'),
  });
  expect(again.status).toBe(400);
  expect(again.headers.get('stripe-should-retry')).toBe('false');
  expect(again.json).toEqual({
    error: {
      type: 'invalid_request_error',
      message: 'An event already exists with identifier usage-42.',
    },
  });
  // The SDK surfaces it as an invalid request without a code; the first value stays counted alone.
  await expect(
    stripe.billing.meterEvents.create({
      event_name: 'dup',
      identifier: 'usage-42',
      payload: { stripe_customer_id: c.id, value: '5' },
    }),
  ).rejects.toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError', code: undefined });
  // The v2 endpoint shares the identifier space and the check.
  await expect(
    stripe.v2.billing.meterEvents.create({
      event_name: 'dup',
      identifier: 'usage-42',
      payload: { stripe_customer_id: c.id, value: '6' },
    }),
  ).rejects.toMatchObject({
    statusCode: 400,
    message: 'An event already exists with identifier usage-42.',
  });
  const now = emulator.emulator.now();
  expect(meterUsage(emulator.emulator, m.id, c.id, now - 60, now + 1)).toBe(3);
});
