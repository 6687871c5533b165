import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis';
import { describeWithRedis, testRedisUrl } from '../support/redis';
import { startTestService, type TestService } from '../support/service';
import { waitUntil } from '../support/wait';
import { connectSocket, subscribe } from '../support/ws-client';

/**
 * Per-account rate limits on mutations. These services have no Stripe key, so a Stripe mutation the limit lets
 * through answers STRIPE_ERROR ("not configured"): that is enough to tell "allowed" from RATE_LIMITED without
 * a Stripe emulator. Account ids are unique per run, since the shared Redis outlives the test.
 */
const run = randomBytes(4).toString('hex');
const account = (name: string) => `acct_rl_${run}_${name}`;

const UPDATE_CUSTOMER = 'mutation { updateCustomer(input: { name: "Ada" }) { id } }';
const RECORD_USAGE = 'mutation($input: RecordUsageInput!) { recordUsage(input: $input) { duplicate } }';

/** One HTTP GraphQL call, with the response's headers (the support helper drops them). */
async function post(
  service: TestService,
  query: string,
  token: string,
  variables?: Record<string, unknown>,
): Promise<{
  status: number;
  retryAfter: string | null;
  body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}> {
  const response = await fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as never,
  };
}

function codeOf(result: Awaited<ReturnType<typeof post>>): string | undefined {
  return result.body.errors?.[0]?.extensions?.code as string | undefined;
}

async function updateCustomer(service: TestService, accountId: string): Promise<string | undefined> {
  return codeOf(await post(service, UPDATE_CUSTOMER, await service.token(accountId)));
}

let usageKey = 0;
function usageInput(accountId?: string) {
  return { input: { metric: 'ai_requests', quantity: 1, idempotencyKey: `k${++usageKey}`, accountId } };
}

describeWithRedis('rate limits in Redis, shared by every instance', () => {
  let database: TestDatabase;
  let first: TestService;
  let second: TestService;
  const env = {
    REDIS_URL: testRedisUrl,
    RATE_LIMIT_STRIPE_PER_MINUTE: '3',
    RATE_LIMIT_USAGE_PER_MINUTE: '2',
    RATE_LIMIT_STRIPE_READS_PER_MINUTE: '2',
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    [first, second] = await Promise.all([
      startTestService({ database, env }),
      startTestService({ database, env }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
    await database?.drop();
  });

  it('refuses the budget’s next mutation with RATE_LIMITED, whichever instance serves it', async () => {
    const accountId = account('shared');
    expect(await updateCustomer(first, accountId)).toBe('STRIPE_ERROR');
    expect(await updateCustomer(second, accountId)).toBe('STRIPE_ERROR');
    expect(await updateCustomer(first, accountId)).toBe('STRIPE_ERROR');

    const refused = await post(second, UPDATE_CUSTOMER, await second.token(accountId));
    expect(refused.status).toBe(200);
    expect(refused.body.data).toBeNull();
    expect(refused.body.errors).toEqual([
      {
        message: expect.stringMatching(/^Too many requests: try again in \d+ s$/),
        locations: expect.any(Array),
        path: ['updateCustomer'],
        extensions: { code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number), limit: 'stripe' },
      },
    ]);
    const retryAfterSeconds = refused.body.errors?.[0]?.extensions?.retryAfterSeconds as number;
    // 3 a minute: a token comes back every 20 s.
    expect(retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(retryAfterSeconds).toBeLessThanOrEqual(20);
    expect(refused.retryAfter).toBe(String(retryAfterSeconds));
  });

  it('counts a deployment on another database apart, though it shares the Redis and the account ids', async () => {
    const accountId = account('other_deployment');
    for (let index = 0; index < 3; index++)
      expect(await updateCustomer(first, accountId)).toBe('STRIPE_ERROR');
    expect(await updateCustomer(second, accountId)).toBe('RATE_LIMITED');
    const otherDatabase = await createTestDatabase();
    const other = await startTestService({ database: otherDatabase, env });
    try {
      expect(await updateCustomer(other, accountId)).toBe('STRIPE_ERROR');
    } finally {
      await other.stop();
      await otherDatabase.drop();
    }
  });

  it('leaves other accounts, queries and the other class of mutations alone', async () => {
    const accountId = account('busy');
    for (let i = 0; i < 3; i++) await updateCustomer(first, accountId);
    expect(await updateCustomer(first, accountId)).toBe('RATE_LIMITED');

    expect(await updateCustomer(first, account('neighbour'))).toBe('STRIPE_ERROR');
    const token = await first.token(accountId);
    for (let i = 0; i < 5; i++) {
      const query = await post(first, '{ viewer { id } }', token);
      expect(query.body).toEqual({ data: { viewer: { id: accountId } } });
      expect(query.retryAfter).toBeNull();
    }
    const usage = await post(first, RECORD_USAGE, token, usageInput());
    expect(usage.body.errors).toBeUndefined();
  });

  it('limits the viewer’s Stripe reads on a budget of their own, leaving the rest of the query and the mutations', async () => {
    const accountId = account('reader');
    const token = await first.token(accountId);
    const NEXT_BILL = '{ viewer { id upcomingInvoice { total } } }';
    for (let i = 0; i < 2; i++) {
      const allowed = await post(i === 0 ? first : second, NEXT_BILL, token);
      expect(allowed.body.errors?.map((error) => error.extensions?.code) ?? []).not.toContain('RATE_LIMITED');
    }
    const refused = await post(second, NEXT_BILL, token);
    expect(refused.body.data).toEqual({ viewer: { id: accountId, upcomingInvoice: null } });
    expect(refused.body.errors?.[0]).toMatchObject({
      path: ['viewer', 'upcomingInvoice'],
      extensions: { code: 'RATE_LIMITED', limit: 'stripeRead' },
    });
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    // The mutations' budget is untouched: a plan change still gets through.
    expect(await updateCustomer(first, accountId)).toBe('STRIPE_ERROR');
  });

  it('limits usage recorded by users, not by the service role', async () => {
    const user = account('user_usage');
    const userToken = await first.token(user);
    expect(codeOf(await post(first, RECORD_USAGE, userToken, usageInput()))).toBeUndefined();
    expect(codeOf(await post(second, RECORD_USAGE, userToken, usageInput()))).toBeUndefined();
    const refused = await post(first, RECORD_USAGE, userToken, usageInput());
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'usage' });

    const gateway = await first.token(account('gateway'), { roles: ['service'] });
    for (let i = 0; i < 6; i++) {
      const recorded = await post(first, RECORD_USAGE, gateway, usageInput(account(`customer_${i % 2}`)));
      expect(recorded.body.errors).toBeUndefined();
    }
  });

  it('counts every limited mutation of one operation', async () => {
    const accountId = account('aliases');
    const use = (key: string) =>
      `recordUsage(input: { metric: "ai_requests", quantity: 1, idempotencyKey: "${key}" }) { duplicate }`;
    const result = await post(
      first,
      `mutation { a: ${use('a')} b: ${use('b')} c: ${use('c')} }`,
      await first.token(accountId),
    );
    // Mutation fields run one after the other; the third finds the budget of 2 spent.
    expect(result.body.data).toBeNull();
    expect(result.body.errors).toMatchObject([{ path: ['c'], extensions: { code: 'RATE_LIMITED' } }]);
    expect(Number(result.retryAfter)).toBeGreaterThanOrEqual(1);
  });
});

describe('rate limits without Redis', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ env: { RATE_LIMIT_STRIPE_PER_MINUTE: '2' } });
  });

  afterAll(async () => {
    await service?.stop();
  });

  it('count in memory when REDIS_URL is unset', async () => {
    const accountId = account('memory');
    expect(await updateCustomer(service, accountId)).toBe('STRIPE_ERROR');
    expect(await updateCustomer(service, accountId)).toBe('STRIPE_ERROR');
    expect(await updateCustomer(service, accountId)).toBe('RATE_LIMITED');
    expect(await updateCustomer(service, account('memory_other'))).toBe('STRIPE_ERROR');

    // A mutation over the WebSocket spends the same budget: the limit is on the schema, not the transport.
    const socket = connectSocket(service.url, `Bearer ${await service.token(accountId)}`);
    try {
      const overSocket = subscribe(socket, UPDATE_CUSTOMER);
      await waitUntil(() => overSocket.errors.length > 0, 'the mutation over the socket answers');
      expect(overSocket.errors).toEqual([
        expect.objectContaining({ extensions: expect.objectContaining({ code: 'RATE_LIMITED' }) }),
      ]);
    } finally {
      await socket.dispose();
    }
  });

  it('are off with RATE_LIMIT_ENABLED=false', async () => {
    const off = await startTestService({
      database: service.database,
      env: { RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_STRIPE_PER_MINUTE: '1' },
    });
    try {
      for (let i = 0; i < 4; i++) expect(await updateCustomer(off, account('off'))).toBe('STRIPE_ERROR');
    } finally {
      await off.stop();
    }
  });
});

describeWithRedis('rate limits while Redis is down', () => {
  let redis: PrivateRedis;
  let service: TestService;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    service = await startTestService({ env: { REDIS_URL: redis.url, RATE_LIMIT_STRIPE_PER_MINUTE: '2' } });
  });

  afterAll(async () => {
    await service?.stop();
    await redis?.stop();
  });

  it('fall back to counting in the instance, and neither fail nor let everything through', async () => {
    const accountId = account('outage');
    expect(await updateCustomer(service, accountId)).toBe('STRIPE_ERROR');
    await redis.kill();
    try {
      // The Redis budget is out of reach: the instance starts a budget of its own.
      expect(await updateCustomer(service, accountId)).toBe('STRIPE_ERROR');
      expect(await updateCustomer(service, accountId)).toBe('STRIPE_ERROR');
      expect(await updateCustomer(service, accountId)).toBe('RATE_LIMITED');
    } finally {
      await redis.start();
    }
  });
});
