import { Notification, UsageCounter, UsageRecord } from '../../src/entities';
import { createCustomer, createSubscription } from '../support/factories';
import { startTestService, type TestService } from '../support/service';

/**
 * Usage metering through the GraphQL API against real PostgreSQL (checklist 6.1.4 and 6.3.3): exact counting,
 * idempotency, atomic hard limits, soft limits as overage, gauges, validation, authorization and overrides.
 * (Redis copies, cache invalidation across instances and Redis outages: usage-redis.test.ts.)
 */

const RECORD = `mutation($input: RecordUsageInput!) {
  recordUsage(input: $input) { duplicate usage { metric used included remaining overage periodStart periodEnd } }
}`;
const BATCH = `mutation($input: [RecordUsageInput!]!) {
  recordUsageBatch(input: $input) { duplicate usage { metric used overage } }
}`;
const FEATURE = `query($key: String!) { viewer { feature(key: $key) { feature allowed reason limit used remaining } } }`;
const USAGE =
  '{ viewer { usage { metric used included remaining overage } entitlements { feature enabled limit used } } }';

interface Summary {
  metric: string;
  used: number;
  included: number | null;
  remaining: number | null;
  overage: number;
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
  return `acct_usage_${accountSequence}_${Date.now()}`;
}

async function record(
  accountId: string,
  input: Record<string, unknown>,
  roles: Array<'admin' | 'service'> = [],
) {
  return app.graphql<{ recordUsage: { duplicate: boolean; usage: Summary } }>(RECORD, {
    token: await app.token(accountId, { roles }),
    variables: { input },
  });
}

async function usageOf(accountId: string, metric: string): Promise<Summary> {
  const result = await app.graphql<{ viewer: { usage: Summary[] } }>(USAGE, {
    token: await app.token(accountId),
  });
  expect(result.errors).toBeUndefined();
  return result.data?.viewer.usage.find((row) => row.metric === metric) as Summary;
}

async function recordsOf(accountId: string): Promise<number> {
  return app.app.orm.em.fork().count(UsageRecord, { accountId });
}

async function subscribe(accountId: string, planKey: string): Promise<void> {
  const em = app.app.orm.em.fork();
  const customer = createCustomer(em, { accountId, email: `${accountId}@example.com` });
  createSubscription(em, customer, { planKey });
  await em.flush();
  await em.transactional((tem) => app.app.services.provisioner.provision(tem, accountId, new Date()));
  await app.app.services.events.accountUpdated(accountId, 'test.subscribed');
}

describe('recording usage', () => {
  it('counts a use once and reports a retry with the same key as a duplicate', async () => {
    const accountId = newAccountId();
    const first = await record(accountId, { metric: 'ai_requests', quantity: 3, idempotencyKey: 'req-1' });
    expect(first.errors).toBeUndefined();
    expect(first.data?.recordUsage).toMatchObject({
      duplicate: false,
      usage: { metric: 'ai_requests', used: 3, included: 100, remaining: 97, overage: 0 },
    });
    const retry = await record(accountId, { metric: 'ai_requests', quantity: 3, idempotencyKey: 'req-1' });
    expect(retry.data?.recordUsage).toMatchObject({ duplicate: true, usage: { used: 3 } });
    expect(await usageOf(accountId, 'ai_requests')).toMatchObject({ used: 3, remaining: 97 });
    expect(await recordsOf(accountId)).toBe(1);
  });

  it('keeps the same key of two accounts apart', async () => {
    const [a, b] = [newAccountId(), newAccountId()];
    await record(a, { metric: 'ai_requests', quantity: 1, idempotencyKey: 'shared-key' });
    const other = await record(b, { metric: 'ai_requests', quantity: 1, idempotencyKey: 'shared-key' });
    expect(other.data?.recordUsage.duplicate).toBe(false);
    expect(await usageOf(b, 'ai_requests')).toMatchObject({ used: 1 });
  });

  it('lets exactly one of 50 concurrent requests through at one below a hard limit', async () => {
    const accountId = newAccountId();
    await record(accountId, { metric: 'ai_requests', quantity: 99, idempotencyKey: 'bulk' });
    const token = await app.token(accountId);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        app.graphql(RECORD, {
          token,
          variables: { input: { metric: 'ai_requests', quantity: 1, idempotencyKey: `race-${i}` } },
        }),
      ),
    );
    const passed = results.filter((result) => !result.errors);
    const refused = results.filter(
      (result) => result.errors?.[0]?.extensions?.code === 'USAGE_LIMIT_EXCEEDED',
    );
    expect(passed).toHaveLength(1);
    expect(refused).toHaveLength(49);
    expect(refused[0]?.errors?.[0]?.extensions).toMatchObject({ metric: 'ai_requests', limit: 100 });
    expect(await usageOf(accountId, 'ai_requests')).toMatchObject({ used: 100, remaining: 0 });
    expect(await recordsOf(accountId)).toBe(2);
  });

  it('refuses a use past a hard limit with USAGE_LIMIT_EXCEEDED and records nothing', async () => {
    const accountId = newAccountId();
    const result = await record(accountId, {
      metric: 'ai_requests',
      quantity: 101,
      idempotencyKey: 'too-much',
    });
    expect(result.errors?.[0]?.extensions?.code).toBe('USAGE_LIMIT_EXCEEDED');
    expect(result.errors?.[0]?.message).toMatch(/Free plan includes 100 ai_requests/);
    expect(await recordsOf(accountId)).toBe(0);
    // The refused key was not used up: the same key may be recorded once the use fits.
    const fits = await record(accountId, {
      metric: 'ai_requests',
      quantity: 100,
      idempotencyKey: 'too-much',
    });
    expect(fits.data?.recordUsage.duplicate).toBe(false);
  });

  it('bills past a soft limit as overage, and the check says so', async () => {
    const accountId = newAccountId();
    await subscribe(accountId, 'starter');
    const result = await record(accountId, { metric: 'ai_requests', quantity: 1250, idempotencyKey: 'big' });
    expect(result.errors).toBeUndefined();
    expect(result.data?.recordUsage.usage).toMatchObject({
      used: 1250,
      included: 1000,
      remaining: 0,
      overage: 250,
    });
    const check = await app.graphql(FEATURE, {
      token: await app.token(accountId),
      variables: { key: 'ai_requests' },
    });
    expect(check.data?.viewer).toEqual({
      feature: {
        feature: 'ai_requests',
        allowed: true,
        reason: 'OVERAGE',
        limit: 1000,
        used: 1250,
        remaining: 0,
      },
    });
  });

  it('holds the latest level of a gauge and bills its peak', async () => {
    const accountId = newAccountId();
    await subscribe(accountId, 'starter');
    const t0 = Date.now() - 60_000;
    const at = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();
    await record(accountId, {
      metric: 'storage_mb',
      quantity: 1500,
      idempotencyKey: 's1',
      occurredAt: at(1),
    });
    await record(accountId, { metric: 'storage_mb', quantity: 900, idempotencyKey: 's3', occurredAt: at(3) });
    // An older level arriving late changes the peak if higher, never the current level.
    const late = await record(accountId, {
      metric: 'storage_mb',
      quantity: 1600,
      idempotencyKey: 's2',
      occurredAt: at(2),
    });
    expect(late.data?.recordUsage.usage).toMatchObject({ used: 900, included: 1024, overage: 576 });
  });

  it('refuses a gauge rising past a hard limit but always lets it fall', async () => {
    const accountId = newAccountId();
    const over = await record(accountId, { metric: 'seats', quantity: 2, idempotencyKey: 'seat-2' });
    expect(over.errors?.[0]?.extensions?.code).toBe('USAGE_LIMIT_EXCEEDED');
    expect(
      (await record(accountId, { metric: 'seats', quantity: 1, idempotencyKey: 'seat-1' })).errors,
    ).toBeUndefined();
    expect(
      (await record(accountId, { metric: 'seats', quantity: 0, idempotencyKey: 'seat-0' })).errors,
    ).toBeUndefined();
    expect(await usageOf(accountId, 'seats')).toMatchObject({ used: 0 });
  });

  it.each([
    ['a negative quantity', { metric: 'ai_requests', quantity: -1 }, /must not be negative/],
    ['an absurdly large quantity', { metric: 'ai_requests', quantity: 1_000_001 }, /at most 1000000/],
    ['an unknown metric', { metric: 'gpu_hours', quantity: 1 }, /Unknown metric "gpu_hours"/],
    [
      'a future time',
      { metric: 'ai_requests', quantity: 1, occurredAt: new Date(Date.now() + 3_600_000).toISOString() },
      /ahead/,
    ],
    [
      'a time too long ago',
      { metric: 'ai_requests', quantity: 1, occurredAt: new Date(Date.now() - 7_200_000).toISOString() },
      /last hour/,
    ],
    ['an empty key', { metric: 'ai_requests', quantity: 1, idempotencyKey: '' }, /idempotencyKey/],
  ])('refuses %s with BAD_USER_INPUT and writes nothing', async (_what, input, message) => {
    const accountId = newAccountId();
    const result = await record(accountId, { idempotencyKey: 'k', ...input });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(message);
    expect(await recordsOf(accountId)).toBe(0);
  });

  it.each([
    ['fractional', 1.5],
    ['larger than 32 bits', 2 ** 40],
    ['NaN', 'NaN'],
  ])('refuses a %s quantity at the GraphQL layer with BAD_USER_INPUT', async (_what, quantity) => {
    const accountId = newAccountId();
    const result = await record(accountId, { metric: 'ai_requests', quantity, idempotencyKey: 'k' });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await recordsOf(accountId)).toBe(0);
  });
});

describe('what a record may not do', () => {
  it('refuses an idempotency key reused for another use, and writes nothing', async () => {
    const accountId = newAccountId();
    await record(accountId, { metric: 'ai_requests', quantity: 2, idempotencyKey: 'reused' });
    const other = await record(accountId, { metric: 'ai_requests', quantity: 5, idempotencyKey: 'reused' });
    expect(other.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'idempotencyKey' });
    const otherMetric = await record(accountId, {
      metric: 'storage_mb',
      quantity: 2,
      idempotencyKey: 'reused',
    });
    expect(otherMetric.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(await usageOf(accountId, 'ai_requests')).toMatchObject({ used: 2 });
    expect(await recordsOf(accountId)).toBe(1);
  });

  it('refuses a counter record of nothing', async () => {
    const accountId = newAccountId();
    const result = await record(accountId, { metric: 'ai_requests', quantity: 0, idempotencyKey: 'zero' });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.quantity' });
    expect(await recordsOf(accountId)).toBe(0);
  });

  it('refuses any use of a metric an override switched off, even one the plan bills as overage', async () => {
    const accountId = newAccountId();
    await subscribe(accountId, 'starter');
    await record(accountId, { metric: 'ai_requests', quantity: 900, idempotencyKey: 'before' });
    await app.app.services.usage.overrides.set({
      accountId,
      feature: 'ai_requests',
      enabled: false,
      limit: null,
      note: null,
    });
    const refused = await record(accountId, { metric: 'ai_requests', quantity: 1, idempotencyKey: 'after' });
    expect(refused.errors?.[0]?.extensions?.code).toBe('USAGE_LIMIT_EXCEEDED');
    // What the overage reporter bills by: the allowance is kept, not turned into 0 (which would bill all 900).
    const counter = await app.app.orm.em
      .fork()
      .findOneOrFail(UsageCounter, { accountId, metric: 'ai_requests' });
    expect(counter).toMatchObject({ used: 900, included: 1000 });
  });

  it('weighs the period allowance by time on each allowance when it changes inside the period', async () => {
    const accountId = newAccountId();
    await subscribe(accountId, 'professional');
    await record(accountId, { metric: 'ai_requests', quantity: 8000, idempotencyKey: 'pro' });
    // As a downgrade to starter would: 1,000 included from now on.
    await app.app.services.usage.overrides.set({
      accountId,
      feature: 'ai_requests',
      enabled: true,
      limit: 1000,
      note: null,
    });
    await record(accountId, { metric: 'ai_requests', quantity: 1, idempotencyKey: 'starter' });
    const counter = await app.app.orm.em
      .fork()
      .findOneOrFail(UsageCounter, { accountId, metric: 'ai_requests' });
    // The fixture's period began 5 of its 30 days ago: 10,000 × 5/30 (1,667, kept) + 1,000 × 25/30 (833) = 2,500;
    // the 5,501 past it are billed as overage, what the credit for the unused professional time leaves unpaid.
    expect(counter).toMatchObject({ used: 8001, included: 2500, planIncluded: 1000 });
  });

  it('counts a late use dated before the current period in its own period, never in the new allowance', async () => {
    const accountId = newAccountId();
    const em = app.app.orm.em.fork();
    const periodStart = new Date(Date.now() - 10 * 60_000);
    const customer = createCustomer(em, { accountId });
    createSubscription(em, customer, {
      planKey: 'starter',
      currentPeriodStart: periodStart,
      currentPeriodEnd: new Date(periodStart.getTime() + 30 * 86_400_000),
    });
    // The period that just ended (a trial of 14 days, say) has its counter, at its allowance.
    const trialStart = new Date(periodStart.getTime() - 14 * 86_400_000);
    em.create(UsageCounter, {
      accountId,
      metric: 'ai_requests',
      periodStart: trialStart,
      periodEnd: periodStart,
      used: 990,
      peak: 990,
      included: 1000,
      planIncluded: 1000,
      overLimit: 'block',
    });
    await em.flush();
    const lateBy = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
    const late = await record(accountId, {
      metric: 'ai_requests',
      quantity: 3,
      idempotencyKey: 'late',
      occurredAt: lateBy(30),
    });
    expect(late.errors).toBeUndefined();
    // Past the ended period's allowance: refused under that period's rule (a trial's), not given the new one's.
    const over = await record(accountId, {
      metric: 'ai_requests',
      quantity: 8,
      idempotencyKey: 'late-over',
      occurredAt: lateBy(20),
    });
    expect(over.errors?.[0]?.extensions).toMatchObject({
      code: 'USAGE_LIMIT_EXCEEDED',
      limit: 1000,
      used: 993,
    });
    const counters = await app.app.orm.em.fork().find(UsageCounter, { accountId });
    expect(counters.map((counter) => [counter.periodStart.getTime(), counter.used])).toEqual([
      [trialStart.getTime(), 993],
    ]);
  });

  it('counts a late use in the period it falls in when that period has no counter yet', async () => {
    const accountId = newAccountId();
    const em = app.app.orm.em.fork();
    const periodStart = new Date(Date.now() - 10 * 60_000);
    createSubscription(em, createCustomer(em, { accountId }), {
      planKey: 'starter',
      currentPeriodStart: periodStart,
      currentPeriodEnd: new Date(periodStart.getTime() + 30 * 86_400_000),
    });
    await em.flush();
    const late = await record(accountId, {
      metric: 'ai_requests',
      quantity: 3,
      idempotencyKey: 'late',
      occurredAt: new Date(Date.now() - 30 * 60_000).toISOString(),
    });
    expect(late.errors).toBeUndefined();
    const counters = await app.app.orm.em.fork().find(UsageCounter, { accountId });
    expect(counters.map((counter) => [counter.periodEnd.getTime(), counter.used])).toEqual([
      [periodStart.getTime(), 3],
    ]);
  });
});

describe('recording in batches', () => {
  it('records a batch in order, with duplicates inside it and from before', async () => {
    const accountId = newAccountId();
    await record(accountId, { metric: 'ai_requests', quantity: 1, idempotencyKey: 'b-0' });
    const result = await app.graphql<{ recordUsageBatch: Array<{ duplicate: boolean; usage: Summary }> }>(
      BATCH,
      {
        token: await app.token(accountId),
        variables: {
          input: [
            { metric: 'ai_requests', quantity: 1, idempotencyKey: 'b-0' },
            { metric: 'ai_requests', quantity: 2, idempotencyKey: 'b-1' },
            { metric: 'ai_requests', quantity: 2, idempotencyKey: 'b-1' },
            { metric: 'storage_mb', quantity: 40, idempotencyKey: 'b-2' },
            { metric: 'ai_requests', quantity: 5, idempotencyKey: 'b-3' },
          ],
        },
      },
    );
    expect(result.errors).toBeUndefined();
    expect(
      result.data?.recordUsageBatch.map((row) => [row.duplicate, row.usage.metric, row.usage.used]),
    ).toEqual([
      [true, 'ai_requests', 1],
      [false, 'ai_requests', 3],
      [true, 'ai_requests', 3],
      [false, 'storage_mb', 40],
      [false, 'ai_requests', 8],
    ]);
    expect(await recordsOf(accountId)).toBe(4);
  });

  it('records nothing of a batch when one record is over a hard limit', async () => {
    const accountId = newAccountId();
    const result = await app.graphql(BATCH, {
      token: await app.token(accountId),
      variables: {
        input: [
          { metric: 'ai_requests', quantity: 60, idempotencyKey: 'x-1' },
          { metric: 'ai_requests', quantity: 60, idempotencyKey: 'x-2' },
        ],
      },
    });
    expect(result.errors?.[0]?.extensions?.code).toBe('USAGE_LIMIT_EXCEEDED');
    expect(await recordsOf(accountId)).toBe(0);
    expect(await usageOf(accountId, 'ai_requests')).toMatchObject({ used: 0 });
  });

  it('lets the service role record for several accounts in one batch', async () => {
    const [a, b] = [newAccountId(), newAccountId()];
    const result = await app.graphql<{ recordUsageBatch: Array<{ usage: Summary }> }>(BATCH, {
      token: await app.token('ai-gateway', { roles: ['service'] }),
      variables: {
        input: [
          { accountId: a, metric: 'ai_requests', quantity: 4, idempotencyKey: 'g-1' },
          { accountId: b, metric: 'ai_requests', quantity: 7, idempotencyKey: 'g-1' },
        ],
      },
    });
    expect(result.errors).toBeUndefined();
    expect(await usageOf(a, 'ai_requests')).toMatchObject({ used: 4 });
    expect(await usageOf(b, 'ai_requests')).toMatchObject({ used: 7 });
  });

  it('refuses more than 1,000 records in one batch', async () => {
    const accountId = newAccountId();
    const input = Array.from({ length: 1001 }, (_, i) => ({
      metric: 'ai_requests',
      quantity: 0,
      idempotencyKey: `m-${i}`,
    }));
    const result = await app.graphql(BATCH, { token: await app.token(accountId), variables: { input } });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await recordsOf(accountId)).toBe(0);
  });
});

describe('who may record and read', () => {
  it('refuses a user recording for another account', async () => {
    const [mine, theirs] = [newAccountId(), newAccountId()];
    const result = await record(mine, {
      accountId: theirs,
      metric: 'ai_requests',
      quantity: 1,
      idempotencyKey: 'k',
    });
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await recordsOf(theirs)).toBe(0);
  });

  it('refuses an anonymous caller', async () => {
    const result = await app.graphql(RECORD, {
      variables: { input: { metric: 'ai_requests', quantity: 1, idempotencyKey: 'k' } },
    });
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it("refuses a user reading another account's usage or features", async () => {
    const result = await app.graphql(`query($id: ID!) { account(id: $id) { usage { used } } }`, {
      token: await app.token(newAccountId()),
      variables: { id: newAccountId() },
    });
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('feature gating', () => {
  it('answers by plan: on, off, unknown, and usage limits', async () => {
    const accountId = newAccountId();
    const token = await app.token(accountId);
    const ask = async (key: string) =>
      (
        await app.graphql<{ viewer: { feature: Record<string, unknown> } }>(FEATURE, {
          token,
          variables: { key },
        })
      ).data?.viewer.feature ?? null;
    expect(await ask('ai_assistant')).toMatchObject({ allowed: true, reason: null });
    expect(await ask('api_access')).toMatchObject({ allowed: false, reason: 'NOT_IN_PLAN' });
    expect(await ask('teleportation')).toMatchObject({ allowed: false, reason: 'UNKNOWN_FEATURE' });
    await record(accountId, { metric: 'ai_requests', quantity: 100, idempotencyKey: 'all' });
    expect(await ask('ai_requests')).toMatchObject({
      allowed: false,
      reason: 'LIMIT_REACHED',
      used: 100,
      remaining: 0,
    });
  });

  it('treats an unlimited metric as always allowed', async () => {
    const accountId = newAccountId();
    await subscribe(accountId, 'enterprise');
    const result = await record(accountId, {
      metric: 'ai_requests',
      quantity: 1_000_000,
      idempotencyKey: 'lots',
    });
    expect(result.data?.recordUsage.usage).toMatchObject({
      used: 1_000_000,
      included: null,
      remaining: null,
      overage: 0,
    });
  });

  it('applies an admin override at once, survives plan changes, and can be removed', async () => {
    const accountId = newAccountId();
    const admin = await app.token('admin-1', { roles: ['admin'] });
    const set = await app.graphql(
      `mutation($input: EntitlementOverrideInput!) { setEntitlementOverride(input: $input) }`,
      {
        token: admin,
        variables: {
          input: { accountId, feature: 'ai_requests', enabled: true, limit: 5, note: 'contract 42' },
        },
      },
    );
    expect(set.errors).toBeUndefined();
    expect(
      (await record(accountId, { metric: 'ai_requests', quantity: 6, idempotencyKey: 'o' })).errors?.[0]
        ?.extensions?.code,
    ).toBe('USAGE_LIMIT_EXCEEDED');
    const sso = await app.graphql(
      `mutation($input: EntitlementOverrideInput!) { setEntitlementOverride(input: $input) }`,
      {
        token: admin,
        variables: { input: { accountId, feature: 'sso', enabled: true } },
      },
    );
    expect(sso.errors).toBeUndefined();
    // A plan change keeps the override: it is the account's, not the plan's.
    await subscribe(accountId, 'starter');
    const token = await app.token(accountId);
    const view = await app.graphql<{
      viewer: { entitlements: Array<{ feature: string; enabled: boolean; limit: number | null }> };
    }>(USAGE, { token });
    expect(view.data?.viewer.entitlements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ feature: 'sso', enabled: true }),
        expect.objectContaining({ feature: 'ai_requests', enabled: true, limit: 5 }),
      ]),
    );
    const removed = await app.graphql(
      `mutation($a: ID!) { removeEntitlementOverride(accountId: $a, feature: "ai_requests") }`,
      {
        token: admin,
        variables: { a: accountId },
      },
    );
    expect(removed.data).toEqual({ removeEntitlementOverride: true });
    expect(
      (await record(accountId, { metric: 'ai_requests', quantity: 6, idempotencyKey: 'o' })).errors,
    ).toBeUndefined();
  });

  it('lets only an admin set an override', async () => {
    const result = await app.graphql(
      `mutation($input: EntitlementOverrideInput!) { setEntitlementOverride(input: $input) }`,
      {
        token: await app.token('someone', { roles: ['service'] }),
        variables: { input: { accountId: 'x', feature: 'sso', enabled: true } },
      },
    );
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('usage notifications', () => {
  it('tells the account at 80% and at 100% of its allowance, once per period each', async () => {
    const accountId = newAccountId();
    const em = app.app.orm.em.fork();
    createCustomer(em, { accountId, email: 'heavy-user@example.com' });
    await em.flush();
    await record(accountId, { metric: 'ai_requests', quantity: 79, idempotencyKey: 'n-1' });
    expect(await app.app.orm.em.fork().count(Notification, { accountId })).toBe(0);
    await record(accountId, { metric: 'ai_requests', quantity: 1, idempotencyKey: 'n-2' });
    await record(accountId, { metric: 'ai_requests', quantity: 5, idempotencyKey: 'n-3' });
    await record(accountId, { metric: 'ai_requests', quantity: 15, idempotencyKey: 'n-4' });
    await record(accountId, { metric: 'ai_requests', quantity: 1, idempotencyKey: 'n-5' }); // refused: over the limit
    const mails = await app.app.orm.em
      .fork()
      .find(Notification, { accountId }, { orderBy: { createdAt: 'asc' } });
    expect(
      mails.map((mail) => [
        mail.kind,
        mail.recipient,
        (mail.data as { thresholdPercent: number }).thresholdPercent,
      ]),
    ).toEqual([
      ['usage_threshold', 'heavy-user@example.com', 80],
      ['usage_threshold', 'heavy-user@example.com', 100],
    ]);
    const counter = await app.app.orm.em
      .fork()
      .findOneOrFail(UsageCounter, { accountId, metric: 'ai_requests' });
    expect(counter.thresholdNotified).toBe(100);
  });
});
