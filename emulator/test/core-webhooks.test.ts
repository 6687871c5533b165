/**
 * Webhook endpoints and delivery: Stripe's signature (verified with the SDK's constructEvent),
 * ordering, retries, and the out-of-order / twice / concurrent switches.
 */
import type Stripe from 'stripe';
import { type Receiver, startReceiver, startTestEmulator, type TestEmulator } from './core-helpers';

let emulator: TestEmulator;
let stripe: Stripe;
let rx: Receiver;
let secret = '';

beforeAll(async () => {
  emulator = await startTestEmulator();
  stripe = emulator.stripe;
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(async () => {
  await emulator.control('/_emulator/reset');
  await emulator.control('/_emulator/webhooks/mode', { reset: true, retry_schedule_ms: ['50', '50', '50'] });
  rx = await startReceiver(() => secret);
  const we = await stripe.webhookEndpoints.create({ url: rx.url, enabled_events: ['*'] });
  secret = we.secret ?? '';
});
afterEach(async () => {
  await rx.close();
});

async function customers(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await stripe.customers.create({ name: `c${i}` })).id);
  return ids;
}

function createdIds(r: Receiver): string[] {
  return r.received
    .filter((x) => x.event.type === 'customer.created')
    .map((x) => (x.event.data.object as Stripe.Customer).id);
}

describe('webhook endpoints resource', () => {
  test('secret only on create; list, update, delete', async () => {
    expect(secret).toMatch(/^whsec_/);
    const list = await stripe.webhookEndpoints.list();
    expect(list.data).toHaveLength(1);
    expect(list.data[0].secret).toBeUndefined();
    const got = await stripe.webhookEndpoints.retrieve(list.data[0].id);
    expect(got.secret).toBeUndefined();
    expect(got.enabled_events).toEqual(['*']);
    const upd = await stripe.webhookEndpoints.update(got.id, { enabled_events: ['customer.updated'] });
    expect(upd.enabled_events).toEqual(['customer.updated']);
    const del = await stripe.webhookEndpoints.del(got.id);
    expect(del.deleted).toBe(true);
    await expect(stripe.webhookEndpoints.update(got.id, { description: 'x' })).rejects.toMatchObject({
      statusCode: 404,
    });
  });
});

describe('delivery', () => {
  test('signed so constructEvent verifies it; in creation order by default', async () => {
    const ids = await customers(5);
    await emulator.flush();
    await rx.waitFor(5);
    expect(rx.rejected).toEqual([]);
    expect(createdIds(rx)).toEqual(ids);
    expect(rx.received[0].signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(rx.maxConcurrent).toBe(1);
    const ev = await stripe.events.retrieve(rx.received[0].event.id);
    expect(ev.pending_webhooks).toBe(0);
  });

  test('only endpoints whose enabled_events match get the event', async () => {
    const rx2 = await startReceiver(() => secret2);
    const we2 = await stripe.webhookEndpoints.create({ url: rx2.url, enabled_events: ['customer.updated'] });
    const secret2 = we2.secret ?? '';
    const [id] = await customers(1);
    await stripe.customers.update(id, { name: 'changed' });
    await emulator.flush();
    expect(rx.received.map((r) => r.event.type)).toEqual(['customer.created', 'customer.updated']);
    expect(rx2.received.map((r) => r.event.type)).toEqual(['customer.updated']);
    expect(rx2.rejected).toEqual([]);
    await rx2.close();
  });

  test('retried on non-2xx until it succeeds; attempts are recorded', async () => {
    rx.respond = (n) => (n < 2 ? 500 : 200);
    await customers(1);
    await emulator.flush();
    expect(rx.received).toHaveLength(1);
    const eventId = rx.received[0].event.id;
    const d = (await emulator.control(`/_emulator/webhooks/deliveries?event=${eventId}`, {}, 'GET')) as {
      data: { attempt: number; status: string; response_code: number | null }[];
    };
    expect(d.data.map((x) => [x.attempt, x.status, x.response_code])).toEqual([
      [1, 'failed', 500],
      [2, 'failed', 500],
      [3, 'succeeded', 200],
    ]);
    expect((await stripe.events.retrieve(eventId)).pending_webhooks).toBe(0);
  });

  test('gives up after the retry schedule; network errors count as failures', async () => {
    rx.respond = () => 503;
    await customers(1);
    await emulator.flush();
    const d = (await emulator.control('/_emulator/webhooks/deliveries', {}, 'GET')) as {
      data: { status: string; next_retry_at: number | null }[];
    };
    expect(d.data).toHaveLength(4); // first try + 3 retries
    expect(d.data.every((x) => x.status === 'failed')).toBe(true);
    expect(d.data[3].next_retry_at).toBeNull();
    const ev = (await stripe.events.list({ type: 'customer.created' })).data[0];
    expect(ev.pending_webhooks).toBe(1);

    await emulator.control('/_emulator/reset');
    await emulator.control('/_emulator/webhooks/mode', { retry_schedule_ms: ['20'] });
    await stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:1/closed', enabled_events: ['*'] });
    await customers(1);
    await emulator.flush();
    const d2 = (await emulator.control('/_emulator/webhooks/deliveries', {}, 'GET')) as {
      data: { status: string; error: string | null }[];
    };
    expect(d2.data).toHaveLength(2);
    expect(d2.data[0].error).toBeTruthy();
  });
});

describe('test switches', () => {
  test('twice: every event arrives two times', async () => {
    await emulator.control('/_emulator/webhooks/mode', { twice: true });
    const ids = await customers(3);
    await emulator.flush();
    expect(rx.received).toHaveLength(6);
    const counts = new Map<string, number>();
    for (const r of rx.received) counts.set(r.event.id, (counts.get(r.event.id) ?? 0) + 1);
    expect([...counts.values()]).toEqual([2, 2, 2]);
    expect(new Set(createdIds(rx))).toEqual(new Set(ids));
  });

  test('reverse: a window of events arrives newest first', async () => {
    await emulator.control('/_emulator/webhooks/mode', { order: 'reverse', window: 3, window_ms: 5000 });
    const ids = await customers(3);
    await emulator.flush();
    expect(createdIds(rx)).toEqual([...ids].reverse());
  });

  test('shuffle: all events arrive, in some order; flush releases a partial window', async () => {
    await emulator.control('/_emulator/webhooks/mode', { order: 'shuffle', window: 10, window_ms: 60000 });
    const ids = await customers(6);
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.received).toHaveLength(0); // held in the window
    await emulator.flush();
    expect(createdIds(rx).sort()).toEqual([...ids].sort());
  });

  test('concurrent: deliveries overlap (default: one at a time)', async () => {
    rx.delayMs = 150;
    await customers(3);
    await emulator.flush();
    expect(rx.maxConcurrent).toBe(1);
    await emulator.control('/_emulator/webhooks/mode', { concurrent: true, twice: true });
    await customers(3);
    await emulator.flush();
    expect(rx.received).toHaveLength(9);
    expect(rx.maxConcurrent).toBeGreaterThanOrEqual(2);
  });
});

describe('forwarding and dashboard', () => {
  test('--forward-to delivers every event signed with the given secret', async () => {
    const fwdSecret = 'whsec_forward_test_secret';
    const fwd = await startReceiver(() => fwdSecret);
    const other = await startTestEmulator({ forwardTo: fwd.url, webhookSecret: fwdSecret });
    try {
      const c = await other.stripe.customers.create({ email: 'f@x.test' });
      await other.flush();
      expect(fwd.rejected).toEqual([]);
      expect(fwd.received.map((r) => (r.event.data.object as Stripe.Customer).id)).toEqual([c.id]);
    } finally {
      await other.close();
      await fwd.close();
    }
  });

  test('GET / lists customers and events with their deliveries', async () => {
    const [id] = await customers(1);
    await emulator.flush();
    const html = await (await fetch(`${emulator.url}/`)).text();
    expect(html).toContain(id);
    expect(html).toContain('customer.created');
    expect(html).toMatch(/class="succeeded"/);
  });
});
