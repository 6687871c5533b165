import { BillingClient } from '../../src/client';
import { UsageRecord } from '../../src/entities';
import { startTestService, type TestService } from '../support/service';

/**
 * `POST /usage/batch` (ADR 0030): `recordUsageBatch` without GraphQL. It must answer what the mutation answers,
 * share its idempotency, its limits and its errors' codes, and scope a caller to its own account as the
 * mutation does.
 */

const BATCH = `mutation($input: [RecordUsageInput!]!) {
  recordUsageBatch(input: $input) { duplicate usage { metric used included remaining overage periodStart periodEnd } }
}`;

interface RouteAnswer {
  status: number;
  body: {
    data?: { recordUsageBatch: unknown[] };
    errors?: Array<{ message: string; extensions: Record<string, unknown> }>;
  };
  retryAfter: string | null;
  cacheControl: string | null;
}

let app: TestService;

beforeAll(async () => {
  app = await startTestService();
});

afterAll(async () => {
  await app.stop();
});

let accountSequence = 0;
function newAccountId(): string {
  accountSequence += 1;
  return `acct_route_${accountSequence}_${Date.now()}`;
}

async function route(body: unknown, token: string | null, path = '/usage/batch'): Promise<RouteAnswer> {
  const response = await fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as RouteAnswer['body'],
    retryAfter: response.headers.get('retry-after'),
    cacheControl: response.headers.get('cache-control'),
  };
}

async function graphqlBatch(input: unknown[], token: string) {
  return app.graphql<{ recordUsageBatch: unknown[] }>(BATCH, { token, variables: { input } });
}

async function recordsOf(accountId: string): Promise<number> {
  return app.app.orm.em.fork().count(UsageRecord, { accountId });
}

/** A batch with a duplicate inside it, two metrics, a quantity of 0 on a gauge and a use dated a minute ago. */
function sampleBatch(accountId?: string) {
  const minuteAgo = new Date(Date.now() - 60_000).toISOString();
  return [
    { metric: 'ai_requests', quantity: 2, idempotencyKey: 'r-1' },
    { metric: 'ai_requests', quantity: 2, idempotencyKey: 'r-1' },
    { metric: 'storage_mb', quantity: 40, idempotencyKey: 'r-2', occurredAt: minuteAgo },
    { metric: 'ai_requests', quantity: 5, idempotencyKey: 'r-3' },
  ].map((input) => (accountId ? { ...input, accountId } : input));
}

describe('POST /usage/batch answers what recordUsageBatch answers', () => {
  it('gives the same results for the same batch, a user on its own account', async () => {
    const [overGraphQL, overRoute] = [newAccountId(), newAccountId()];
    const viaGraphQL = await graphqlBatch(sampleBatch(), await app.token(overGraphQL));
    const viaRoute = await route({ input: sampleBatch() }, await app.token(overRoute));
    expect(viaGraphQL.errors).toBeUndefined();
    expect(viaRoute.status).toBe(200);
    expect(viaRoute.cacheControl).toBe('no-store');
    expect(viaRoute.body).toEqual({ data: viaGraphQL.data });
    expect(viaRoute.body.data?.recordUsageBatch[3]).toMatchObject({
      duplicate: false,
      usage: { metric: 'ai_requests', used: 7 },
    });
    expect(await recordsOf(overRoute)).toBe(await recordsOf(overGraphQL));
  });

  it('shares idempotency with the mutation: keys recorded over GraphQL are duplicates over the route', async () => {
    const accountId = newAccountId();
    const gateway = await app.token('ai-gateway', { roles: ['service'] });
    const first = await graphqlBatch(sampleBatch(accountId), gateway);
    expect(first.errors).toBeUndefined();
    const replay = await route({ input: sampleBatch(accountId) }, gateway);
    const again = await graphqlBatch(sampleBatch(accountId), gateway);
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ data: again.data });
    expect(
      replay.body.data?.recordUsageBatch.map((row) => (row as { duplicate: boolean }).duplicate),
    ).toEqual([true, true, true, true]);
    expect(await recordsOf(accountId)).toBe(3);
  });

  it('refuses a batch over a hard limit as the mutation does, and records nothing', async () => {
    const [overGraphQL, overRoute] = [newAccountId(), newAccountId()];
    const over = [
      { metric: 'ai_requests', quantity: 60, idempotencyKey: 'x-1' },
      { metric: 'ai_requests', quantity: 60, idempotencyKey: 'x-2' },
    ];
    const viaGraphQL = await graphqlBatch(over, await app.token(overGraphQL));
    const viaRoute = await route({ input: over }, await app.token(overRoute));
    expect(viaRoute.status).toBe(402);
    expect(viaRoute.body.errors?.[0]?.extensions.code).toBe('USAGE_LIMIT_EXCEEDED');
    expect(viaRoute.body.errors?.[0]?.message).toBe(viaGraphQL.errors?.[0]?.message);
    expect(viaRoute.body.errors?.[0]?.extensions).toEqual(viaGraphQL.errors?.[0]?.extensions);
    expect(await recordsOf(overRoute)).toBe(0);
  });

  it.each([
    ['a negative quantity', { metric: 'ai_requests', quantity: -1, idempotencyKey: 'n-1' }],
    ['an unknown metric', { metric: 'gpu_hours', quantity: 1, idempotencyKey: 'n-2' }],
    ['a key with a space', { metric: 'ai_requests', quantity: 1, idempotencyKey: 'a b' }],
  ])('refuses %s with the message and field the mutation gives', async (_what, bad) => {
    const input = [{ metric: 'ai_requests', quantity: 1, idempotencyKey: 'ok-1' }, bad];
    const accountId = newAccountId();
    const token = await app.token(accountId);
    const viaGraphQL = await graphqlBatch(input, token);
    const viaRoute = await route({ input }, token);
    expect(viaRoute.status).toBe(400);
    expect(viaRoute.body.errors?.[0]).toEqual({
      message: viaGraphQL.errors?.[0]?.message,
      extensions: viaGraphQL.errors?.[0]?.extensions,
    });
    expect(viaRoute.body.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    expect(await recordsOf(accountId)).toBe(0);
  });

  it('refuses a key reused for another quantity with CONFLICT, as the mutation does', async () => {
    const accountId = newAccountId();
    const token = await app.token(accountId);
    await route({ input: [{ metric: 'ai_requests', quantity: 1, idempotencyKey: 'k-1' }] }, token);
    const reused = [{ metric: 'ai_requests', quantity: 2, idempotencyKey: 'k-1' }];
    const viaGraphQL = await graphqlBatch(reused, token);
    const viaRoute = await route({ input: reused }, token);
    expect(viaRoute.body.errors?.[0]?.extensions.code).toBe(viaGraphQL.errors?.[0]?.extensions?.code);
    expect(viaRoute.body.errors?.[0]?.message).toBe(viaGraphQL.errors?.[0]?.message);
    expect(viaRoute.status).toBe(viaGraphQL.errors?.[0]?.extensions?.code === 'CONFLICT' ? 409 : 400);
    expect(await recordsOf(accountId)).toBe(1);
  });
});

describe('POST /usage/batch coerces the records as GraphQL does', () => {
  it.each([
    // GraphQL's coerceInputValue places a field it does not know, or one missing, at the object holding it.
    ['a fractional quantity', { quantity: 1.5 }, 'input[0].quantity', 'Int'],
    ['a quantity as a string', { quantity: '3' }, 'input[0].quantity', 'Int'],
    ['a date that is not RFC 3339', { occurredAt: 'yesterday' }, 'input[0].occurredAt', 'date-time'],
    ['a field RecordUsageInput lacks', { priority: 1 }, 'input[0]', '"priority"'],
    ['no idempotency key', { idempotencyKey: undefined }, 'input[0]', '"idempotencyKey"'],
  ])(
    'refuses %s with BAD_USER_INPUT naming the field, as GraphQL refuses it',
    async (_what, change, field, named) => {
      const accountId = newAccountId();
      const token = await app.token(accountId);
      const input = [{ metric: 'ai_requests', quantity: 1, idempotencyKey: 'c-1', ...change }];
      const viaRoute = await route({ input }, token);
      const viaGraphQL = await graphqlBatch(input, token);
      expect(viaRoute.status).toBe(400);
      expect(viaRoute.body.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field });
      expect(viaRoute.body.errors?.[0]?.message).toContain(named);
      expect(viaGraphQL.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(await recordsOf(accountId)).toBe(0);
    },
  );

  it('refuses a body that is not {"input": [...]}', async () => {
    const token = await app.token(newAccountId());
    for (const body of [{ records: [] }, { input: {} }, '[1]']) {
      const answer = await route(body, token);
      expect(answer.status).toBe(400);
      expect(answer.body.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    }
    const notJson = await route('{"input": [', token);
    expect(notJson.status).toBe(400);
    expect(notJson.body.errors?.[0]?.extensions.code).toBe('BAD_REQUEST');
  });
});

describe('POST /usage/batch is scoped to the caller', () => {
  it("refuses a user's batch naming another account (FORBIDDEN) and records nothing anywhere", async () => {
    const [mine, theirs] = [newAccountId(), newAccountId()];
    const token = await app.token(mine);
    const input = [
      { metric: 'ai_requests', quantity: 1, idempotencyKey: 'own-1' },
      { metric: 'ai_requests', quantity: 1, idempotencyKey: 'steal-1', accountId: theirs },
    ];
    const viaRoute = await route({ input }, token);
    const viaGraphQL = await graphqlBatch(input, token);
    expect(viaRoute.status).toBe(403);
    expect(viaRoute.body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect(viaRoute.body.errors?.[0]?.message).toBe(viaGraphQL.errors?.[0]?.message);
    expect(await recordsOf(theirs)).toBe(0);
    expect(await recordsOf(mine)).toBe(0);
  });

  it("keeps a user's keys apart from the gateway's, as the mutation does", async () => {
    const accountId = newAccountId();
    const gateway = await app.token('ai-gateway', { roles: ['service'] });
    const input = [{ metric: 'ai_requests', quantity: 1, idempotencyKey: 'shared-1' }];
    await route({ input }, await app.token(accountId));
    const fromGateway = await route({ input: [{ ...input[0], accountId }] }, gateway);
    expect(fromGateway.body.data?.recordUsageBatch[0]).toMatchObject({
      duplicate: false,
      usage: { used: 2 },
    });
    const keys = await app.app.orm.em
      .fork()
      .find(UsageRecord, { accountId }, { orderBy: { idempotencyKey: 'asc' } });
    expect(keys.map((row) => row.idempotencyKey)).toEqual(['shared-1', 'user:shared-1']);
  });

  it('answers 401 without a token or with a bad one', async () => {
    const input = [{ metric: 'ai_requests', quantity: 1, idempotencyKey: 'anon-1' }];
    const anonymous = await route({ input }, null);
    const forged = await route({ input }, 'not-a-jwt');
    for (const answer of [anonymous, forged]) {
      expect(answer.status).toBe(401);
      expect(answer.body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    }
  });
});

const RECORD = `mutation($input: RecordUsageInput!) {
  recordUsage(input: $input) { duplicate usage { metric used included remaining overage periodStart periodEnd } }
}`;

describe('POST /usage/record answers what recordUsage answers', () => {
  it('gives the same answers for the same records, duplicates included', async () => {
    const [overGraphQL, overRoute] = [newAccountId(), newAccountId()];
    const gateway = await app.token('ai-gateway', { roles: ['service'] });
    for (const input of sampleBatch()) {
      const viaGraphQL = await app.graphql(RECORD, {
        token: gateway,
        variables: { input: { ...input, accountId: overGraphQL } },
      });
      const viaRoute = await route({ input: { ...input, accountId: overRoute } }, gateway, '/usage/record');
      expect(viaGraphQL.errors).toBeUndefined();
      expect(viaRoute.status).toBe(200);
      expect(viaRoute.body).toEqual({ data: viaGraphQL.data });
    }
    expect(await recordsOf(overRoute)).toBe(3);
  });

  it('refuses as recordUsage does: bad input, another account, no token', async () => {
    const [mine, theirs] = [newAccountId(), newAccountId()];
    const token = await app.token(mine);
    const negative = { metric: 'ai_requests', quantity: -1, idempotencyKey: 'neg-1' };
    const viaGraphQL = await app.graphql(RECORD, { token, variables: { input: negative } });
    const bad = await route({ input: negative }, token, '/usage/record');
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.[0]).toEqual({
      message: viaGraphQL.errors?.[0]?.message,
      extensions: viaGraphQL.errors?.[0]?.extensions,
    });
    const stolen = { metric: 'ai_requests', quantity: 1, idempotencyKey: 's-1', accountId: theirs };
    const forbidden = await route({ input: stolen }, token, '/usage/record');
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    const anonymous = await route({ input: { ...stolen, accountId: undefined } }, null, '/usage/record');
    expect(anonymous.status).toBe(401);
    const notOne = await route({ input: [negative] }, token, '/usage/record');
    expect(notOne.body.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'input' });
    expect((await recordsOf(theirs)) + (await recordsOf(mine))).toBe(0);
  });
});

describe("the usage routes spend the mutations' rate limit", () => {
  it("refuses a user's third call in a minute (429, Retry-After) whichever way it came; the service role is exempt", async () => {
    const limited = await startTestService({ env: { RATE_LIMIT_USAGE_PER_MINUTE: '2' } });
    try {
      const accountId = newAccountId();
      const token = await limited.token(accountId);
      const one = (key: string) => ({ metric: 'ai_requests', quantity: 1, idempotencyKey: key });
      const viaGraphQL = await limited.graphql(BATCH, { token, variables: { input: [one('l-1')] } });
      expect(viaGraphQL.errors).toBeUndefined();
      const post = (path: string, body: unknown, bearer: string) =>
        fetch(`${limited.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
          body: JSON.stringify(body),
        });
      expect((await post('/usage/record', { input: one('l-2') }, token)).status).toBe(200);
      const refused = await post('/usage/batch', { input: [one('l-3')] }, token);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await refused.json()) as RouteAnswer['body']).errors?.[0]?.extensions).toMatchObject({
        code: 'RATE_LIMITED',
        limit: 'usage',
      });
      const gateway = await limited.token('ai-gateway', { roles: ['service'] });
      for (const key of ['g-1', 'g-2', 'g-3'])
        expect((await post('/usage/batch', { input: [{ ...one(key), accountId }] }, gateway)).status).toBe(
          200,
        );
    } finally {
      await limited.stop();
    }
  });
});

describe('the typed client', () => {
  it('sends recordUsageBatch to the route and answers as over GraphQL', async () => {
    const accountId = newAccountId();
    const urls: string[] = [];
    const client = new BillingClient({
      url: `${app.url}/graphql`,
      token: await app.token('ai-gateway', { roles: ['service'] }),
      fetch: (url, init) => {
        urls.push(String(url));
        return fetch(url, init);
      },
    });
    const results = await client.recordUsageBatch([
      { accountId, metric: 'ai_requests', quantity: 3, idempotencyKey: 't-1' },
      { accountId, metric: 'ai_requests', quantity: 3, idempotencyKey: 't-1' },
    ]);
    expect(urls).toEqual([`${app.url}/usage/batch`]);
    expect(results.map((result) => [result.duplicate, result.usage.used])).toEqual([
      [false, 3],
      [true, 3],
    ]);
    expect(results[0]?.usage.periodStart).toBeInstanceOf(Date);
    const single = await client.recordUsage({
      accountId,
      metric: 'ai_requests',
      quantity: 2,
      idempotencyKey: 't-2',
    });
    expect(urls[1]).toBe(`${app.url}/usage/record`);
    expect(single).toMatchObject({ duplicate: false, usage: { used: 5 } });
  });

  it('falls back to the mutations when the service has no routes (404), and with usageRoutes: false', async () => {
    const accountId = newAccountId();
    const urls: string[] = [];
    const token = await app.token('ai-gateway', { roles: ['service'] });
    const recording = (url: string | URL | Request, init?: RequestInit) => {
      urls.push(String(url));
      // An older service: no usage routes.
      if (String(url).includes('/usage/')) return Promise.resolve(new Response('Not Found', { status: 404 }));
      return fetch(url, init);
    };
    const client = new BillingClient({ url: `${app.url}/graphql`, token, fetch: recording });
    const record = { accountId, metric: 'ai_requests', quantity: 1, idempotencyKey: 'f-1' };
    expect(await client.recordUsage(record)).toMatchObject({ duplicate: false, usage: { used: 1 } });
    expect(await client.recordUsageBatch([record])).toMatchObject([{ duplicate: true }]);
    expect(urls).toEqual([`${app.url}/usage/record`, `${app.url}/graphql`, `${app.url}/graphql`]);
    const off = new BillingClient({ url: `${app.url}/graphql`, token, fetch: recording, usageRoutes: false });
    await off.recordUsageBatch([{ ...record, idempotencyKey: 'f-2' }]);
    expect(urls.slice(3)).toEqual([`${app.url}/graphql`]);
  });
});
