/**
 * The wire protocol as the official `stripe` SDK uses it: form nesting, auth, headers, errors,
 * idempotency, pagination, expand, search and injected faults.
 */
import Stripe from 'stripe';
import type { ResourceModule } from '../src/core/http';
import { API_KEY, startTestEmulator, type TestEmulator } from './core-helpers';

/** A probe route whose handler waits until released (for the concurrent-idempotency check). */
let release: () => void = () => {};
let started: () => void = () => {};
const probe: ResourceModule = {
  routes: [
    {
      method: 'POST',
      path: '/v1/test_probe',
      handler: async ({ input }) => {
        started();
        await new Promise<void>((r) => {
          release = r;
        });
        return { id: 'probe', object: 'probe', value: input.str('value') ?? null };
      },
    },
  ],
};

let emulator: TestEmulator;
let stripe: Stripe;

beforeAll(async () => {
  emulator = await startTestEmulator({ extraModules: [probe] });
  stripe = emulator.stripe;
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(async () => {
  await emulator.control('/_emulator/reset');
});

describe('form encoding', () => {
  test('nested params (tiers, recurring, metadata) arrive as Stripe nests them', async () => {
    const product = await stripe.products.create({ name: 'Seats', metadata: { plan: 'pro', tier: '2' } });
    expect(product.metadata).toEqual({ plan: 'pro', tier: '2' });
    const price = await stripe.prices.create({
      product: product.id,
      currency: 'usd',
      billing_scheme: 'tiered',
      tiers_mode: 'volume',
      tiers: [
        { up_to: 5, unit_amount: 1000 },
        { up_to: 'inf', unit_amount_decimal: Stripe.Decimal.from('750.5'), flat_amount: 200 },
      ],
      recurring: { interval: 'month', interval_count: 3 },
      expand: ['tiers'],
    });
    expect(price.recurring).toMatchObject({ interval: 'month', interval_count: 3, usage_type: 'licensed' });
    expect(price.tiers).toHaveLength(2);
    expect(price.tiers?.[0]).toMatchObject({ up_to: 5, unit_amount: 1000 });
    expect(price.tiers?.[1]).toMatchObject({ up_to: null, flat_amount: 200, unit_amount: null });
    // *_decimal are strings on the wire; the SDK turns them into its Decimal type.
    expect(String(price.tiers?.[1].unit_amount_decimal)).toBe('750.5');
  });

  test("metadata[k]='' deletes a key and metadata='' clears all", async () => {
    const c = await stripe.customers.create({ metadata: { a: '1', b: '2' } });
    const u = await stripe.customers.update(c.id, { metadata: { a: '', c: '3' } });
    expect(u.metadata).toEqual({ b: '2', c: '3' });
    const cleared = await stripe.customers.update(c.id, { metadata: '' as unknown as Stripe.MetadataParam });
    expect(cleared.metadata).toEqual({});
  });

  test('created[gte] range filter on lists', async () => {
    const a = await stripe.customers.create({ email: 'a@x.test' });
    const list = await stripe.customers.list({ created: { gte: a.created } });
    expect(list.data.map((c) => c.id)).toContain(a.id);
    const none = await stripe.customers.list({ created: { gt: a.created + 1000 } });
    expect(none.data).toHaveLength(0);
  });
});

describe('auth, headers and errors', () => {
  test('missing key: 401 with Stripe error shape', async () => {
    const r = await emulator.raw('GET', '/v1/customers', { auth: null });
    expect(r.status).toBe(401);
    const err = r.json.error as Record<string, unknown>;
    expect(err.type).toBe('invalid_request_error');
    expect(String(err.message)).toMatch(/did not provide an API key/);
  });

  test('invalid key: 401 and the SDK raises StripeAuthenticationError', async () => {
    const bad = emulator.client({}, 'sk_live_abcdefghijklmnop');
    await expect(bad.customers.list()).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    const short = await emulator.raw('GET', '/v1/customers', { auth: 'Bearer sk_test_1' });
    expect(short.status).toBe(401);
  });

  test('basic auth with the key as user name is accepted', async () => {
    const basic = `Basic ${Buffer.from(`${API_KEY}:`).toString('base64')}`;
    const r = await emulator.raw('GET', '/v1/customers', { auth: basic });
    expect(r.status).toBe(200);
    expect(r.json.object).toBe('list');
  });

  test('Request-Id and Stripe-Version headers', async () => {
    const r = await emulator.raw('GET', '/v1/customers', {
      headers: { 'Stripe-Version': '2026-10-28.endive' },
    });
    expect(r.headers.get('request-id')).toMatch(/^req_[0-9A-Za-z]{14}$/);
    expect(r.headers.get('stripe-version')).toBe('2026-10-28.endive');
    const c = await stripe.customers.create({});
    expect(c.lastResponse.requestId).toMatch(/^req_/);
  });

  test("404 resource_missing: No such customer: 'cus_x'", async () => {
    const err = await stripe.customers.retrieve('cus_x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    const se = err as Stripe.errors.StripeInvalidRequestError;
    expect(se.statusCode).toBe(404);
    expect(se.code).toBe('resource_missing');
    expect(se.message).toBe("No such customer: 'cus_x'");
    expect(se.param).toBe('id');
  });

  test('400 parameter_missing names the param', async () => {
    const err = (await stripe.prices
      .create({ currency: 'usd', unit_amount: 100 } as Stripe.PriceCreateParams)
      .catch((e: unknown) => e)) as Stripe.errors.StripeInvalidRequestError;
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('parameter_missing');
    expect(err.param).toBe('product');
  });

  test('unknown URL: 404 Unrecognized request URL', async () => {
    const r = await emulator.raw('GET', '/v1/nope');
    expect(r.status).toBe(404);
    expect(String((r.json.error as Record<string, unknown>).message)).toMatch(
      /Unrecognized request URL \(GET: \/v1\/nope\)/,
    );
  });
});

describe('idempotency', () => {
  test('same key + same params replays the first response', async () => {
    const a = await stripe.customers.create({ email: 'idem@x.test' }, { idempotencyKey: 'k-1' });
    const b = await stripe.customers.create({ email: 'idem@x.test' }, { idempotencyKey: 'k-1' });
    expect(b.id).toBe(a.id);
    expect(b.lastResponse.headers['idempotent-replayed']).toBe('true');
    const all = await stripe.customers.list({ email: 'idem@x.test' });
    expect(all.data).toHaveLength(1);
  });

  test('same key + different params is an idempotency_error', async () => {
    await stripe.customers.create({ email: 'one@x.test' }, { idempotencyKey: 'k-2' });
    const err = await stripe.customers
      .create({ email: 'two@x.test' }, { idempotencyKey: 'k-2' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect((err as Stripe.errors.StripeError).statusCode).toBe(400);
  });

  test('concurrent use of one key answers 409', async () => {
    const isStarted = new Promise<void>((r) => {
      started = r;
    });
    const first = emulator.raw('POST', '/v1/test_probe', {
      body: 'value=a',
      headers: { 'Idempotency-Key': 'k-3' },
    });
    await isStarted;
    const second = await emulator.raw('POST', '/v1/test_probe', {
      body: 'value=a',
      headers: { 'Idempotency-Key': 'k-3' },
    });
    expect(second.status).toBe(409);
    expect((second.json.error as Record<string, unknown>).type).toBe('idempotency_error');
    release();
    expect((await first).status).toBe(200);
    const replay = await emulator.raw('POST', '/v1/test_probe', {
      body: 'value=a',
      headers: { 'Idempotency-Key': 'k-3' },
    });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.json.value).toBe('a');
  });

  test('GET requests ignore idempotency keys', async () => {
    const r1 = await emulator.raw('GET', '/v1/customers', { headers: { 'Idempotency-Key': 'k-4' } });
    await stripe.customers.create({});
    const r2 = await emulator.raw('GET', '/v1/customers', { headers: { 'Idempotency-Key': 'k-4' } });
    expect((r1.json.data as unknown[]).length).toBe(0);
    expect((r2.json.data as unknown[]).length).toBe(1);
    expect(r2.headers.get('idempotent-replayed')).toBeNull();
  });
});

describe('pagination', () => {
  test('newest first, starting_after and ending_before, has_more and url', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await stripe.customers.create({ name: `c${i}` })).id);
    const newestFirst = [...ids].reverse();
    const p1 = await stripe.customers.list({ limit: 2 });
    expect(p1.url).toBe('/v1/customers');
    expect(p1.has_more).toBe(true);
    expect(p1.data.map((c) => c.id)).toEqual(newestFirst.slice(0, 2));
    const p2 = await stripe.customers.list({ limit: 2, starting_after: p1.data[1].id });
    expect(p2.data.map((c) => c.id)).toEqual(newestFirst.slice(2, 4));
    const p3 = await stripe.customers.list({ limit: 2, starting_after: p2.data[1].id });
    expect(p3.data.map((c) => c.id)).toEqual(newestFirst.slice(4));
    expect(p3.has_more).toBe(false);
    const back = await stripe.customers.list({ limit: 2, ending_before: p3.data[0].id });
    expect(back.data.map((c) => c.id)).toEqual(newestFirst.slice(2, 4));
    expect(back.has_more).toBe(true);
    const all = await stripe.customers.list({ limit: 2 }).autoPagingToArray({ limit: 100 });
    expect(all.map((c) => c.id)).toEqual(newestFirst);
  });

  // What the service's reconciler relies on to walk events forward from one it got past
  // (https://docs.stripe.com/api/pagination): `ending_before` answers the page just newer than the named
  // object, still newest first, with `has_more` while newer ones remain; filters (`types`) apply as usual.
  test('ending_before walks the events forward from one of them, with the types filter', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push((await stripe.customers.create({ name: `walk${i}` })).id);
      await stripe.products.create({ name: `noise${i}` });
    }
    const created = await stripe.events
      .list({ types: ['customer.created'], limit: 100 })
      .autoPagingToArray({ limit: 100 });
    const oldestFirst = created.map((event) => event.id).reverse();
    expect(created.map((event) => (event.data.object as Stripe.Customer).id).reverse()).toEqual(ids);

    const walked: string[] = [];
    let cursor = oldestFirst[0] as string;
    for (let pages = 0; pages < 10; pages++) {
      const page = await stripe.events.list({ types: ['customer.created'], limit: 3, ending_before: cursor });
      expect(page.data.map((event) => event.id)).toEqual(
        oldestFirst.slice(walked.length + 1, walked.length + 1 + page.data.length).reverse(),
      );
      walked.push(...page.data.map((event) => event.id).reverse());
      if (!page.has_more) break;
      cursor = page.data[0]?.id as string;
    }
    expect(walked).toEqual(oldestFirst.slice(1));

    const newest = oldestFirst.at(-1) as string;
    const nothingNewer = await stripe.events.list({ types: ['customer.created'], ending_before: newest });
    expect(nothingNewer).toMatchObject({ data: [], has_more: false });
    const unknown = (await stripe.events
      .list({ ending_before: 'evt_not_there' })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError;
    expect(unknown.code).toBe('resource_missing');
    expect(unknown.param).toBe('ending_before');
  });

  test('limit outside 1..100 is a 400', async () => {
    const err = (await stripe.customers
      .list({ limit: 101 })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError;
    expect(err.statusCode).toBe(400);
    expect(err.param).toBe('limit');
  });
});

describe('expand', () => {
  test('ids expand through the store, with data. on lists and nested paths', async () => {
    const c = await stripe.customers.create({
      email: 'exp@x.test',
      payment_method: 'pm_card_visa',
      invoice_settings: { default_payment_method: 'pm_card_visa' },
    });
    const got = await stripe.customers.retrieve(c.id, {
      expand: ['invoice_settings.default_payment_method'],
    });
    const paymentMethod = (got as Stripe.Customer).invoice_settings
      .default_payment_method as Stripe.PaymentMethod;
    expect(paymentMethod.object).toBe('payment_method');
    expect(paymentMethod.card?.last4).toBe('4242');
    const list = await stripe.paymentMethods.list({ customer: c.id, expand: ['data.customer'] });
    expect((list.data[0].customer as Stripe.Customer).email).toBe('exp@x.test');
    const nested = await stripe.paymentMethods.list({
      customer: c.id,
      expand: ['data.customer.invoice_settings.default_payment_method'],
    });
    const inner = (nested.data[0].customer as Stripe.Customer).invoice_settings
      .default_payment_method as Stripe.PaymentMethod;
    expect(inner.id).toBe(paymentMethod.id);
  });

  test('price tiers only when expanded; expanding an unknown field is a 400', async () => {
    const product = await stripe.products.create({ name: 'T' });
    const price = await stripe.prices.create({
      product: product.id,
      currency: 'usd',
      billing_scheme: 'tiered',
      tiers_mode: 'graduated',
      tiers: [
        { up_to: 10, unit_amount: 100 },
        { up_to: 'inf', unit_amount: 50 },
      ],
    });
    expect(price.tiers).toBeUndefined();
    expect((await stripe.prices.retrieve(price.id, { expand: ['tiers'] })).tiers).toHaveLength(2);
    const listed = await stripe.prices.list({ expand: ['data.tiers'] });
    expect(listed.data[0].tiers).toHaveLength(2);
    const err = (await stripe.prices
      .retrieve(price.id, { expand: ['nonsense'] })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError;
    expect(err.statusCode).toBe(400);
    const primitive = (await stripe.prices
      .retrieve(price.id, { expand: ['currency'] })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError;
    expect(primitive.statusCode).toBe(400);
    const deep = (await stripe.customers
      .list({ expand: ['data.a.b.c.d.e'] })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError;
    expect(deep.statusCode).toBe(400);
  });
});

describe('search', () => {
  test('email, metadata, AND/OR, substring and pages', async () => {
    await stripe.customers.create({ email: 'ann@x.test', name: 'Ann Smith', metadata: { org: 'o1' } });
    await stripe.customers.create({ email: 'bob@x.test', name: 'Bob Stone', metadata: { org: 'o1' } });
    await stripe.customers.create({ email: 'cy@x.test', name: 'Cy Smith', metadata: { org: 'o2' } });
    const byEmail = await stripe.customers.search({ query: "email:'bob@x.test'" });
    expect(byEmail.object).toBe('search_result');
    expect(byEmail.data.map((c) => c.name)).toEqual(['Bob Stone']);
    const both = await stripe.customers.search({ query: "metadata['org']:'o1' AND name~'smi'" });
    expect(both.data.map((c) => c.name)).toEqual(['Ann Smith']);
    const either = await stripe.customers.search({ query: "email:'ann@x.test' OR metadata['org']:'o2'" });
    expect(either.data.map((c) => c.name).sort()).toEqual(['Ann Smith', 'Cy Smith']);
    const p1 = await stripe.customers.search({ query: "email~'x.test'", limit: 2 });
    expect(p1.has_more).toBe(true);
    expect(p1.next_page).toBeTruthy();
    const p2 = await stripe.customers.search({ query: "email~'x.test'", limit: 2, page: p1.next_page ?? '' });
    expect(p2.data).toHaveLength(1);
    expect(p2.has_more).toBe(false);
    const bad = (await stripe.customers
      .search({ query: 'email:' })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError;
    expect(bad.statusCode).toBe(400);
  });
});

describe('faults', () => {
  afterEach(async () => {
    await emulator.control('/_emulator/faults', {}, 'DELETE');
  });

  test('one 500: the SDK retry succeeds; without retries it fails with api_error', async () => {
    await emulator.control('/_emulator/faults', { status: 500, count: 1 });
    const retrying = emulator.client({ maxNetworkRetries: 1 });
    const c = await retrying.customers.create({ email: 'retry@x.test' });
    expect(c.email).toBe('retry@x.test');
    // The retry carried the same idempotency key: exactly one customer exists.
    expect((await stripe.customers.list({ email: 'retry@x.test' })).data).toHaveLength(1);
    await emulator.control('/_emulator/faults', { status: 500, count: 1 });
    const err = await emulator
      .client({ maxNetworkRetries: 0 })
      .customers.list()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect((err as Stripe.errors.StripeError).statusCode).toBe(500);
  });

  test('a rule with a method fails only that method: the create, not the list at the same path', async () => {
    await emulator.control('/_emulator/faults', {
      status: 500,
      count: 1,
      path: '/v1/customers',
      method: 'post',
    });
    const noRetry = emulator.client({ maxNetworkRetries: 0 });
    expect((await noRetry.customers.list()).object).toBe('list');
    const err = await noRetry.customers.create({ email: 'method@x.test' }).catch((e: unknown) => e);
    expect((err as Stripe.errors.StripeError).statusCode).toBe(500);
    expect((await noRetry.customers.create({ email: 'method@x.test' })).email).toBe('method@x.test');
  });

  test('429 rate_limit surfaces as StripeRateLimitError', async () => {
    await emulator.control('/_emulator/faults', { status: 429, count: 1 });
    const err = await emulator
      .client({ maxNetworkRetries: 0 })
      .customers.list()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect((err as Stripe.errors.StripeError).code).toBe('rate_limit');
    expect((await stripe.customers.list()).object).toBe('list');
  });

  test('timeout holds the request; the SDK times out, and its retry succeeds', async () => {
    await emulator.control('/_emulator/faults', { status: 'timeout', count: 1, timeout_ms: 3000 });
    const noRetry = emulator.client({ maxNetworkRetries: 0, timeout: 300 });
    const err = await noRetry.customers.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    await emulator.control('/_emulator/faults', { status: 'timeout', count: 1, timeout_ms: 3000 });
    const retry = emulator.client({ maxNetworkRetries: 1, timeout: 300 });
    expect((await retry.customers.list()).object).toBe('list');
  });

  test('path prefix and rate', async () => {
    await emulator.control('/_emulator/faults', { status: 500, rate: 1, path: '/v1/products' });
    const client = emulator.client({ maxNetworkRetries: 0 });
    expect((await client.customers.list()).object).toBe('list');
    await expect(client.products.list()).rejects.toBeInstanceOf(Stripe.errors.StripeAPIError);
    await expect(client.products.list()).rejects.toBeInstanceOf(Stripe.errors.StripeAPIError);
    await emulator.control('/_emulator/faults', {}, 'DELETE');
    expect((await client.products.list()).object).toBe('list');
  });
});

describe('events from API requests', () => {
  test('carry the request id, idempotency key and previous_attributes', async () => {
    const c = await stripe.customers.create({ email: 'ev@x.test' }, { idempotencyKey: 'ev-key' });
    const u = await stripe.customers.update(c.id, { email: 'ev2@x.test', metadata: { k: 'v' } });
    const events = await stripe.events.list({ type: 'customer.*' });
    expect(events.data.map((e) => e.type)).toEqual(['customer.updated', 'customer.created']);
    const [updated, created] = events.data;
    expect(created.request).toEqual({ id: c.lastResponse.requestId, idempotency_key: 'ev-key' });
    expect(updated.request?.id).toBe(u.lastResponse.requestId);
    expect(updated.api_version).toBe('2026-10-28.endive');
    expect(updated.livemode).toBe(false);
    expect(updated.data.previous_attributes).toEqual({ email: 'ev@x.test', metadata: { k: null } });
    expect((updated.data.object as Stripe.Customer).email).toBe('ev2@x.test');
    const one = await stripe.events.retrieve(created.id);
    expect(one.id).toBe(created.id);
    const typed = await stripe.events.list({ types: ['customer.created', 'product.created'] });
    expect(typed.data.map((e) => e.type)).toEqual(['customer.created']);
    // Stripe's `types` holds at most 20 names (EventListParams.types): 21 is a 400 naming the parameter.
    const twentyOne = Array.from({ length: 21 }, (_, index) => `customer.type_${index}`);
    await expect(stripe.events.list({ types: twentyOne })).rejects.toMatchObject({
      statusCode: 400,
      type: 'StripeInvalidRequestError',
      param: 'types',
    });
    const twenty = await stripe.events.list({ types: [...twentyOne.slice(0, 19), 'customer.created'] });
    expect(twenty.data.map((e) => e.type)).toEqual(['customer.created']);
  });
});

describe('clock and reset', () => {
  test('advancing moves now() and runs registered runners', async () => {
    const before = emulator.emulator.now();
    const windows: { from: number; to: number }[] = [];
    emulator.emulator.onTimeAdvance((w) => {
      windows.push(w);
    });
    const r = await emulator.control('/_emulator/clock/advance', { seconds: 86400 });
    expect(Number(r.now)).toBeGreaterThanOrEqual(before + 86400);
    expect(windows).toHaveLength(1);
    expect(windows[0].to - windows[0].from).toBeGreaterThanOrEqual(86400);
    const c = await stripe.customers.create({});
    expect(c.created).toBeGreaterThanOrEqual(before + 86400);
    await expect(emulator.control('/_emulator/clock/advance', { to: before })).rejects.toThrow(/forward/);
  });

  test('reset empties the store and the clock offset', async () => {
    await stripe.customers.create({});
    await emulator.control('/_emulator/clock/advance', { seconds: 100 });
    await emulator.control('/_emulator/reset');
    expect((await stripe.customers.list()).data).toHaveLength(0);
    expect(emulator.emulator.clock.offset).toBe(0);
  });
});
