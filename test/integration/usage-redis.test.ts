import Redis from 'ioredis';
import { UsageCounter, UsageRecord } from '../../src/entities';
import { redisChannelName } from '../../src/pubsub/redis-pubsub';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { createCustomer, createSubscription } from '../support/factories';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis';
import { describeWithRedis, testRedisUrl } from '../support/redis';
import { startTestService, type TestService } from '../support/service';
import { waitUntil } from '../support/wait';
import { connectSocket, subscribe } from '../support/ws-client';

const RECORD = `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { duplicate usage { used } } }`;
const FEATURE = `query($key: String!) { viewer { feature(key: $key) { allowed reason limit } } }`;
const USAGE = `{ viewer { usage { metric used periodStart } } }`;

/** `promise`, or a failure naming `what` if it has not settled within `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting until ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

let sequence = 0;
const newAccountId = () => `acct_redis_${++sequence}_${Date.now()}`;

async function record(app: TestService, accountId: string, quantity: number, key: string) {
  return app.graphql<{ recordUsage: { duplicate: boolean; usage: { used: number } } }>(RECORD, {
    token: await app.token(accountId),
    variables: { input: { metric: 'ai_requests', quantity, idempotencyKey: key } },
  });
}

async function aiRequestsOf(
  app: TestService,
  accountId: string,
): Promise<{ used: number; periodStart: string }> {
  const result = await app.graphql<{
    viewer: { usage: Array<{ metric: string; used: number; periodStart: string }> };
  }>(USAGE, { token: await app.token(accountId) });
  expect(result.errors).toBeUndefined();
  return result.data?.viewer.usage.find((row) => row.metric === 'ai_requests') as {
    used: number;
    periodStart: string;
  };
}

describeWithRedis('usage with Redis copies and the entitlement cache, across two instances', () => {
  let database: TestDatabase;
  let a: TestService;
  let b: TestService;
  let redis: Redis;

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = { REDIS_URL: testRedisUrl };
    [a, b] = await Promise.all([startTestService({ database, env }), startTestService({ database, env })]);
    redis = new Redis(testRedisUrl);
  });

  afterAll(async () => {
    await Promise.all([a.stop(), b.stop()]);
    redis.disconnect();
    await database.drop();
  });

  it('serves usage reads from Redis, and from PostgreSQL when the copy is missing', async () => {
    const accountId = newAccountId();
    await record(a, accountId, 7, 'k1');
    const { periodStart } = await aiRequestsOf(b, accountId);
    const key = b.app.services.usage.copies.keyOf(accountId, new Date(periodStart));
    const hash = await redis.hgetall(key);
    expect(hash).toMatchObject({ _complete: '1', ai_requests: expect.stringMatching(/^\d+:7:7$/) });
    expect(await redis.ttl(key)).toBeGreaterThan(24 * 3600);
    // Proof that reads come from the copy: change the row behind Redis's back and the read does not move...
    await a.app.orm.em.fork().nativeUpdate(UsageCounter, { accountId }, { used: 1000 });
    expect((await aiRequestsOf(a, accountId)).used).toBe(7);
    // ...until the copy is gone, when the next read rebuilds it from PostgreSQL.
    await redis.del(key);
    expect((await aiRequestsOf(b, accountId)).used).toBe(1000);
    expect(await redis.hget(key, '_complete')).toBe('1');
  });

  it('never lets an older copy overwrite a newer one when writes race', async () => {
    const accountId = newAccountId();
    const token = await a.token(accountId);
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? a : b).graphql(RECORD, {
          token,
          variables: { input: { metric: 'ai_requests', quantity: 1, idempotencyKey: `r${i}` } },
        }),
      ),
    );
    expect((await aiRequestsOf(a, accountId)).used).toBe(30);
    expect((await aiRequestsOf(b, accountId)).used).toBe(30);
  });

  it('drops the cached entitlements on every instance before it hears accountUpdated', async () => {
    for (let round = 0; round < 5; round += 1) {
      const accountId = newAccountId();
      const token = await b.token(accountId);
      const before = await b.graphql<{ viewer: { feature: { allowed: boolean } } }>(FEATURE, {
        token,
        variables: { key: 'api_access' },
      });
      expect(before.data?.viewer.feature).toMatchObject({ allowed: false, reason: 'NOT_IN_PLAN' });
      // B hears of the change as its own GraphQL subscribers would. Another instance learns through Redis, so
      // "at once" there means "once the message arrived", not "when A's publish returned": asking B the moment
      // A returns raced the delivery (flaky under load). The promise is the order: the invalidation goes out
      // first on the same connection, so whoever is told of the change on B is served the new plan by B.
      let heard: () => void = () => undefined;
      const announced = new Promise<void>((resolve) => {
        heard = resolve;
      });
      const unlisten = await b.app.pubSub.listen(`ACCOUNT_UPDATED:${accountId}`, () => heard());
      // The upgrade commits on A (as a webhook or a mutation would), then announces it.
      const em = a.app.orm.em.fork();
      const customer = createCustomer(em, { accountId });
      createSubscription(em, customer, { planKey: 'professional' });
      await em.flush();
      await em.transactional((tem) => a.app.services.provisioner.provision(tem, accountId, new Date()));
      await a.app.services.events.accountUpdated(accountId, 'test.upgraded');
      // Bounded well below the cache's 30 s lifetime: the entry was dropped by the message, not by expiry.
      await withTimeout(announced, 5000, 'B heard accountUpdated');
      await unlisten();
      const after = await b.graphql<{ viewer: { feature: { allowed: boolean } } }>(FEATURE, {
        token,
        variables: { key: 'api_access' },
      });
      expect(after.data?.viewer.feature).toMatchObject({ allowed: true, reason: null });
      const limit = await b.graphql<{ viewer: { feature: { limit: number } } }>(FEATURE, {
        token,
        variables: { key: 'ai_requests' },
      });
      expect(limit.data?.viewer.feature.limit).toBe(10_000);
    }
  });

  it('publishes usageUpdated to the account on any instance, throttled', async () => {
    const accountId = newAccountId();
    const client = connectSocket(b.url, `Bearer ${await b.token(accountId)}`);
    const updates = subscribe<{ usageUpdated: { metric: string; used: number } }>(
      client,
      'subscription { usageUpdated(metric: "ai_requests") { metric used included } }',
    );
    await waitUntil(
      async () =>
        Number(
          (await redis.pubsub('NUMSUB', redisChannelName(database.name, `USAGE_UPDATED:${accountId}`)))[1],
        ) > 0,
      'subscribed',
    );
    for (let i = 1; i <= 20; i += 1) await record(a, accountId, 1, `u${i}`);
    const seen: number[] = [];
    while (seen.at(-1) !== 20) seen.push((await updates.next(3000)).usageUpdated.used);
    // The last figure always arrives; the ones between are coalesced (20 records, far fewer messages).
    expect(seen.at(-1)).toBe(20);
    expect(seen.length).toBeLessThan(20);
    expect([...seen].sort((x, y) => x - y)).toEqual(seen);
    updates.close();
    await client.dispose();
  });
});

describeWithRedis('usage while Redis is down', () => {
  let database: TestDatabase;
  let privateRedis: PrivateRedis;
  let app: TestService;

  beforeAll(async () => {
    database = await createTestDatabase();
    privateRedis = await startPrivateRedis();
    app = await startTestService({ database, env: { REDIS_URL: privateRedis.url } });
  });

  afterAll(async () => {
    await app.stop();
    await privateRedis.stop();
    await database.drop();
  });

  it('keeps recording exactly from PostgreSQL, enforces limits, and rebuilds the copies when Redis is back', async () => {
    const accountId = newAccountId();
    const em = app.app.orm.em.fork();
    createSubscription(em, createCustomer(em, { accountId }), { planKey: 'free', status: 'active' });
    await em.flush();
    await record(app, accountId, 40, 'before');
    const { periodStart } = await aiRequestsOf(app, accountId);

    await privateRedis.kill();
    // Recording goes on, exactly, limits included: 80 one-unit records at 40 used let exactly 60 through.
    const token = await app.token(accountId);
    const results = await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        app.graphql(RECORD, {
          token,
          variables: { input: { metric: 'ai_requests', quantity: 1, idempotencyKey: `down-${i}` } },
        }),
      ),
    );
    expect(results.filter((result) => !result.errors)).toHaveLength(60);
    expect(
      results.filter((result) => result.errors?.[0]?.extensions?.code === 'USAGE_LIMIT_EXCEEDED'),
    ).toHaveLength(20);
    const retry = await record(app, accountId, 1, 'down-0');
    expect(retry.data?.recordUsage.duplicate).toBe(true);
    expect((await aiRequestsOf(app, accountId)).used).toBe(100);
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(503);

    await privateRedis.start();
    await waitUntil(async () => (await fetch(`${app.url}/readyz`)).status === 200, 'ready again', 15_000);
    const redis = new Redis(privateRedis.url);
    try {
      expect((await aiRequestsOf(app, accountId)).used).toBe(100);
      const key = app.app.services.usage.copies.keyOf(accountId, new Date(periodStart));
      // A read rebuilds a missing copy; each poll reads, since the hashes that missed writes are dropped when this
      // instance's own Redis connection is ready again, which may come just after a first read rebuilt one.
      await waitUntil(
        async () => {
          await aiRequestsOf(app, accountId);
          return (await redis.hget(key, '_complete')) === '1';
        },
        'the copy is rebuilt',
        5000,
      );
      expect(await redis.hget(key, 'ai_requests')).toMatch(/:100:100$/);
    } finally {
      redis.disconnect();
    }
    const stored = await app.app.orm.em.fork().find(UsageRecord, { accountId });
    expect(stored.reduce((sum, row) => sum + Number(row.quantity), 0)).toBe(100);
  });
});
