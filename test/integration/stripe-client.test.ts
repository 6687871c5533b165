import { silentLogger } from '../../src/logging/logger';
import { StripeClient } from '../../src/services/stripe/stripe-client';
import { startTestEmulator, TEST_STRIPE_KEY, type TestEmulator } from '../support/emulator';

/** The Stripe client against the emulator's injected faults: retries, idempotency, clear errors, no hangs. */
describe('StripeClient under Stripe faults', () => {
  let emulator: TestEmulator;

  beforeAll(async () => {
    emulator = await startTestEmulator();
  });
  afterAll(() => emulator.close());
  afterEach(() => fetch(`${emulator.url}/_emulator/faults`, { method: 'DELETE' }));

  function client(overrides: { maxNetworkRetries?: number; timeoutMs?: number } = {}): StripeClient {
    return new StripeClient(
      {
        secretKey: TEST_STRIPE_KEY,
        apiBase: emulator.url,
        webhookSecrets: [],
        timeoutMs: overrides.timeoutMs ?? 5000,
        maxNetworkRetries: overrides.maxNetworkRetries ?? 2,
        maxRequestsPerSecond: 1000,
      },
      silentLogger,
    );
  }

  async function fault(body: object): Promise<void> {
    const response = await fetch(`${emulator.url}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.ok).toBe(true);
  }

  async function customersNamed(email: string): Promise<number> {
    return (await emulator.stripe.customers.list({ email, limit: 100 })).data.length;
  }

  it('retries a 500 and a 429 with the same idempotency key and creates one customer', async () => {
    const stripe = client();
    await fault({ status: 500, count: 1, path: '/v1/customers' });
    await fault({ status: 429, count: 1, path: '/v1/customers' });
    const params = { email: 'retry@x.io' };
    const customer = await stripe.call(
      'customers.create',
      (sdk, options) => sdk.customers.create(params, options),
      {
        name: 'customer.create:acct_retry',
        params,
      },
    );
    expect(customer.id).toMatch(/^cus_/);
    expect(await customersNamed('retry@x.io')).toBe(1);
    expect(stripe.statistics().get('customers.create')).toMatchObject({ calls: 1, failures: 0 });
  });

  it('starts requests without a call-site stack, and leaves the stack limit as it was, on success and on failure', async () => {
    const stripe = client({ maxNetworkRetries: 0 });
    const limit = Error.stackTraceLimit;
    const limitsSeen: number[] = [];
    await stripe.call('customers.list', (sdk) => {
      limitsSeen.push(Error.stackTraceLimit);
      return sdk.customers.list({ limit: 1 });
    });
    expect(Error.stackTraceLimit).toBe(limit);
    await fault({ status: 500, count: 1, path: '/v1/customers' });
    await expect(
      stripe.call('customers.list', (sdk) => {
        limitsSeen.push(Error.stackTraceLimit);
        return sdk.customers.list({ limit: 1 });
      }),
    ).rejects.toThrow();
    expect(Error.stackTraceLimit).toBe(limit);
    // While the SDK starts a request (and captures the caller's stack, which it only uses on an error), none.
    expect(limitsSeen).toEqual([0, 0]);
    // An error made later, outside the request's start, has its frames.
    expect(new Error('later').stack?.split('\n').length).toBeGreaterThan(1);
  });

  it('returns the first answer when the same intent is sent again (no second object)', async () => {
    const stripe = client();
    const params = { email: 'again@x.io' };
    const send = () =>
      stripe.call('customers.create', (sdk, options) => sdk.customers.create(params, options), {
        name: 'customer.create:acct_again',
        params,
      });
    const [first, second] = [await send(), await send()];
    expect(second.id).toBe(first.id);
    expect(await customersNamed('again@x.io')).toBe(1);
  });

  it('answers STRIPE_ERROR after the last retry instead of hanging', async () => {
    const stripe = client({ maxNetworkRetries: 1 });
    await fault({ status: 500, count: 5, path: '/v1/customers' });
    await expect(
      stripe.call(
        'customers.create',
        (sdk, options) => sdk.customers.create({ email: 'down@x.io' }, options),
        {
          name: 'customer.create:acct_down',
        },
      ),
    ).rejects.toMatchObject({ extensions: { code: 'STRIPE_ERROR', retryable: true } });
    expect(stripe.statistics().get('customers.create')).toMatchObject({ calls: 1, failures: 1 });
  });

  it('gives up on a Stripe that does not answer within the timeout', async () => {
    const stripe = client({ maxNetworkRetries: 0, timeoutMs: 1000 });
    await fault({ status: 'timeout', count: 1, path: '/v1/customers', timeout_ms: 10_000 });
    const started = Date.now();
    await expect(
      stripe.call('customers.list', (sdk) => sdk.customers.list({ limit: 1 })),
    ).rejects.toMatchObject({ extensions: { code: 'STRIPE_ERROR' } });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('maps a declined card to CARD_DECLINED', async () => {
    const stripe = client();
    const customer = await emulator.stripe.customers.create({ email: 'card@x.io' });
    await expect(
      stripe.call('paymentMethods.attach', (sdk, options) =>
        sdk.paymentMethods.attach('pm_card_chargeDeclined', { customer: customer.id }, options),
      ),
    ).rejects.toMatchObject({ extensions: { code: 'CARD_DECLINED', declineCode: expect.any(String) } });
  });
});
