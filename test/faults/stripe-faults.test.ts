import type Stripe from 'stripe';
import { type BillingStack, startBillingStack } from '../support/billing-stack';

/**
 * Issue 8, faults: Stripe answering 500, 429 or nothing at all (the emulator's fault switches), seen through
 * GraphQL. The StripeClient retries within its limits (attempts counted on the emulator's side, by how many
 * injected faults were used up), the idempotency key makes the retried create one object in Stripe, and after
 * the last retry the caller gets STRIPE_ERROR (with Stripe's request id where Stripe answered) in bounded time.
 */

jest.setTimeout(60_000);

const RETRIES = 2;
const TIMEOUT_MS = 1000;
/** The SDK's back-off before retry n (1-based): 0.5 s doubling, capped at 5 s, never under 0.5 s. */
const sdkBackOffMs = (retry: number) => Math.min(500 * 2 ** (retry - 1), 5000);
/** StripeClient's own back-off before its retry n of a 429: 250 ms doubling (at most, with its jitter). */
const rateLimitBackOffMs = (retry: number) => 250 * 2 ** (retry - 1);
const sum = (count: number, of: (n: number) => number) =>
  Array.from({ length: count }, (_, index) => of(index + 1)).reduce((total, value) => total + value, 0);
/** Scheduling, the account claim and our own SQL on a loaded 2-core machine. */
const SLACK_MS = 2500;

const CREATE_SUBSCRIPTION = `mutation($input: CreateSubscriptionInput!) {
  createSubscription(input: $input) { id status plan { key } }
}`;
const UPDATE_CUSTOMER = `mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { id email } }`;

interface FaultRule {
  status: number | 'timeout';
  count: number | null;
  path: string | null;
  method: string | null;
}

describe('Stripe failing under GraphQL: retries, one object, STRIPE_ERROR in bounded time', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack({
      STRIPE_MAX_NETWORK_RETRIES: String(RETRIES),
      STRIPE_TIMEOUT_MS: String(TIMEOUT_MS),
      RECONCILE_INTERVAL_MS: '0',
    });
  });
  afterEach(() => fetch(`${stack.emulator.url}/_emulator/faults`, { method: 'DELETE' }));
  afterAll(() => stack?.stop());

  /** Fails the next `count` POSTs (creates and updates, not the list at the same path) under `path`. */
  async function fault(rule: {
    status: number | 'timeout';
    count: number;
    path: string;
    timeout_ms?: number;
  }) {
    const response = await fetch(`${stack.emulator.url}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'POST', ...rule }),
    });
    expect(response.ok).toBe(true);
  }

  /** How many injected faults are still unused: what was set minus what the attempts used up. */
  async function faultsLeft(): Promise<number> {
    const { rules } = (await (await fetch(`${stack.emulator.url}/_emulator/faults`)).json()) as {
      rules: FaultRule[];
    };
    return rules.reduce((total, rule) => total + (rule.count ?? 0), 0);
  }

  /**
   * The account's customer is made (faults are for the subscription), then under the fault `rule` the account
   * starts a trial of starter through GraphQL: the answer, how long it took, and the caller for a retry.
   */
  async function subscribeUnderFault(accountId: string, rule: Parameters<typeof fault>[0]) {
    const as = await stack.as(accountId);
    await as(UPDATE_CUSTOMER, { input: { email: `${accountId}@example.com` } }); // the customer exists
    await fault(rule);
    const started = Date.now();
    const result = await as(CREATE_SUBSCRIPTION, {
      input: { planKey: 'starter', interval: 'MONTH', withTrial: true },
    });
    return { as, result, elapsed: Date.now() - started };
  }

  async function subscriptionsOf(accountId: string): Promise<Stripe.Subscription[]> {
    const result = await stack.stripe.subscriptions.search({
      query: `metadata['account_id']:'${accountId}'`,
    });
    return result.data;
  }

  async function customersOf(accountId: string): Promise<Stripe.Customer[]> {
    return (await stack.stripe.customers.search({ query: `metadata['account_id']:'${accountId}'` })).data;
  }

  it('retries 500s on the customer create and makes one customer', async () => {
    const as = await stack.as('acct_fault_customer');
    await fault({ status: 500, count: RETRIES, path: '/v1/customers' });
    const result = await as<{ updateCustomer: { id: string; email: string } }>(UPDATE_CUSTOMER, {
      input: { email: 'faulty@example.com' },
    });
    expect(result.errors).toBeUndefined();
    // Every injected 500 was used up by a retry of the same create (and the update after it went through).
    expect(await faultsLeft()).toBe(0);
    const customers = await customersOf('acct_fault_customer');
    expect(customers.map((customer) => customer.email)).toEqual(['faulty@example.com']);
  });

  it('retries 500s and 429s on the subscription create with one idempotency key: one subscription', async () => {
    const accountId = 'acct_fault_subscription';
    const as = await stack.as(accountId);
    // First 500s (the SDK retries them), then a 429 (StripeClient retries it, with the same key).
    await fault({ status: 500, count: RETRIES, path: '/v1/subscriptions' });
    await fault({ status: 429, count: 1, path: '/v1/subscriptions' });
    const result = await as<{ createSubscription: { status: string; plan: { key: string } } }>(
      CREATE_SUBSCRIPTION,
      { input: { planKey: 'starter', interval: 'MONTH', withTrial: true } },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.createSubscription).toMatchObject({ status: 'TRIALING', plan: { key: 'starter' } });
    expect(await faultsLeft()).toBe(0);
    expect(await subscriptionsOf(accountId)).toHaveLength(1);
    expect(await customersOf(accountId)).toHaveLength(1);
  });

  it.each([{ status: 500 as const }, { status: 429 as const }])(
    'answers STRIPE_ERROR with the request id after the last retry of a $status, within the bound',
    async ({ status }) => {
      const accountId = `acct_fault_down_${status}`;
      const { as, result, elapsed } = await subscribeUnderFault(accountId, {
        status,
        count: 50,
        path: '/v1/subscriptions',
      });
      expect(result.errors?.[0]?.extensions).toMatchObject({
        code: 'STRIPE_ERROR',
        retryable: true,
        stripeRequestId: expect.stringMatching(/^req_/),
      });
      // Exactly the configured attempts: the first and RETRIES more.
      expect(50 - (await faultsLeft())).toBe(RETRIES + 1);
      const backOff = status === 500 ? sum(RETRIES, sdkBackOffMs) : sum(RETRIES, rateLimitBackOffMs);
      expect(elapsed).toBeLessThan(backOff + SLACK_MS);
      expect(await subscriptionsOf(accountId)).toHaveLength(0);

      // Stripe is back: the caller's retry creates the subscription, once.
      await fetch(`${stack.emulator.url}/_emulator/faults`, { method: 'DELETE' });
      const again = await as(CREATE_SUBSCRIPTION, {
        input: { planKey: 'starter', interval: 'MONTH', withTrial: true },
      });
      expect(again.errors).toBeUndefined();
      expect(await subscriptionsOf(accountId)).toHaveLength(1);
    },
  );

  it('gives up on a Stripe that does not answer: STRIPE_ERROR after (retries + 1) × timeout, not a hang', async () => {
    const accountId = 'acct_fault_timeout';
    const { result, elapsed } = await subscribeUnderFault(accountId, {
      status: 'timeout',
      count: 50,
      path: '/v1/subscriptions',
      timeout_ms: 4 * TIMEOUT_MS,
    });
    // No answer, so no request id of Stripe's to give.
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'STRIPE_ERROR',
      retryable: true,
      stripeRequestId: null,
    });
    expect(50 - (await faultsLeft())).toBe(RETRIES + 1);
    const bound = (RETRIES + 1) * TIMEOUT_MS + sum(RETRIES, sdkBackOffMs) + SLACK_MS;
    expect(elapsed).toBeGreaterThanOrEqual((RETRIES + 1) * TIMEOUT_MS);
    expect(elapsed).toBeLessThan(bound);
    expect(await subscriptionsOf(accountId)).toHaveLength(0);
  });
});
