import Redis from 'ioredis';
import { redisChannelName } from '../../src/pubsub/redis-pubsub';
import { Topic } from '../../src/pubsub/topics';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { describeWithRedis, testRedisUrl } from '../support/redis';
import { startTestService, type TestService } from '../support/service';
import { waitUntil } from '../support/wait';
import { connectSocket, subscribe, waitForRedisSubscribers } from '../support/ws-client';

const ACCOUNT_UPDATED =
  'subscription Updated($accountId: ID) { accountUpdated(accountId: $accountId) { id } }';

describeWithRedis('live updates across instances through Redis', () => {
  let database: TestDatabase;
  let instanceA: TestService;
  let instanceB: TestService;
  let redis: Redis;
  const clients: Array<{ dispose(): void | Promise<void> }> = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = { REDIS_URL: testRedisUrl };
    [instanceA, instanceB] = await Promise.all([
      startTestService({ database, env }),
      startTestService({ database, env }),
    ]);
    redis = new Redis(testRedisUrl);
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await Promise.all([instanceA.stop(), instanceB.stop()]);
    redis.disconnect();
    await database.drop();
  });

  async function subscriberOn(instance: TestService, accountId: string, roles: Array<'admin'> = []) {
    const client = connectSocket(instance.url, `Bearer ${await instance.token(accountId, { roles })}`);
    clients.push(client);
    return client;
  }

  it('delivers an event published on instance A to a subscriber on instance B, and only to its account', async () => {
    const alice = subscribe<{ accountUpdated: { id: string } }>(
      await subscriberOn(instanceB, 'acct_alice'),
      ACCOUNT_UPDATED,
    );
    const bob = subscribe<{ accountUpdated: { id: string } }>(
      await subscriberOn(instanceB, 'acct_bob'),
      ACCOUNT_UPDATED,
    );
    await waitForRedisSubscribers(
      redis,
      redisChannelName(database.name, `${Topic.ACCOUNT_UPDATED}:acct_alice`),
    );
    await waitForRedisSubscribers(
      redis,
      redisChannelName(database.name, `${Topic.ACCOUNT_UPDATED}:acct_bob`),
    );

    await instanceA.app.pubSub.publish(Topic.ACCOUNT_UPDATED, 'acct_alice', {
      accountId: 'acct_alice',
      reason: 'test',
    });

    expect(await alice.next()).toEqual({ accountUpdated: { id: 'acct_alice' } });
    expect(await bob.staysQuiet(300)).toBe(true);

    await instanceA.app.pubSub.publish(Topic.ACCOUNT_UPDATED, 'acct_bob', {
      accountId: 'acct_bob',
      reason: 'test',
    });
    expect(await bob.next()).toEqual({ accountUpdated: { id: 'acct_bob' } });
    expect(await alice.staysQuiet(300)).toBe(true);
    alice.close();
    bob.close();
  });

  it('keeps a deployment on another database apart, though it shares the Redis and the account ids', async () => {
    const otherDatabase = await createTestDatabase();
    const other = await startTestService({ database: otherDatabase, env: { REDIS_URL: testRedisUrl } });
    try {
      const here = subscribe<{ accountUpdated: { id: string } }>(
        await subscriberOn(instanceB, 'acct_dave'),
        ACCOUNT_UPDATED,
      );
      const there = subscribe<{ accountUpdated: { id: string } }>(
        await subscriberOn(other, 'acct_dave'),
        ACCOUNT_UPDATED,
      );
      await waitForRedisSubscribers(
        redis,
        redisChannelName(database.name, `${Topic.ACCOUNT_UPDATED}:acct_dave`),
      );
      await waitForRedisSubscribers(
        redis,
        redisChannelName(otherDatabase.name, `${Topic.ACCOUNT_UPDATED}:acct_dave`),
      );

      await instanceA.app.pubSub.publish(Topic.ACCOUNT_UPDATED, 'acct_dave', {
        accountId: 'acct_dave',
        reason: 'test',
      });
      expect(await here.next()).toEqual({ accountUpdated: { id: 'acct_dave' } });
      expect(await there.staysQuiet(500)).toBe(true);

      await other.app.pubSub.publish(Topic.ACCOUNT_UPDATED, 'acct_dave', {
        accountId: 'acct_dave',
        reason: 'test',
      });
      expect(await there.next()).toEqual({ accountUpdated: { id: 'acct_dave' } });
      expect(await here.staysQuiet(500)).toBe(true);
      here.close();
      there.close();
    } finally {
      await other.stop();
      await otherDatabase.drop();
    }
  });

  it("lets an admin follow another account, and forbids a user to follow someone else's", async () => {
    const admin = subscribe<{ accountUpdated: { id: string } }>(
      await subscriberOn(instanceB, 'acct_ops', ['admin']),
      ACCOUNT_UPDATED,
      {
        accountId: 'acct_carol',
      },
    );
    await waitForRedisSubscribers(
      redis,
      redisChannelName(database.name, `${Topic.ACCOUNT_UPDATED}:acct_carol`),
    );
    await instanceA.app.pubSub.publish(Topic.ACCOUNT_UPDATED, 'acct_carol', {
      accountId: 'acct_carol',
      reason: 'test',
    });
    expect(await admin.next()).toEqual({ accountUpdated: { id: 'acct_carol' } });
    admin.close();

    const snoop = subscribe(await subscriberOn(instanceB, 'acct_mallory'), ACCOUNT_UPDATED, {
      accountId: 'acct_carol',
    });
    await waitUntil(() => snoop.errors.length > 0, 'the forbidden subscription fails');
    expect(snoop.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN' }) }),
    ]);
  });

  it('closes a connection whose token is invalid at connection_init', async () => {
    const client = connectSocket(instanceB.url, 'Bearer forged.token.value');
    clients.push(client);
    const closed = new Promise<number>((resolve) =>
      client.on('closed', (event) => resolve((event as { code: number }).code)),
    );
    const rejected = subscribe(client, ACCOUNT_UPDATED);
    expect(await closed).toBe(4403);
    await waitUntil(() => rejected.errors.length > 0, 'the subscription reports the closed connection');
  });

  it('delivers usageUpdated for the chosen metric of the caller only', async () => {
    const usage = subscribe<{ usageUpdated: { metric: string; used: number; periodEnd: string } }>(
      await subscriberOn(instanceB, 'acct_usage'),
      'subscription { usageUpdated(metric: "ai_requests") { metric used included remaining overage periodEnd } }',
    );
    await waitForRedisSubscribers(
      redis,
      redisChannelName(database.name, `${Topic.USAGE_UPDATED}:acct_usage`),
    );
    const base = {
      included: 1000,
      remaining: 0,
      overage: 0,
      periodStart: new Date('2026-11-01T00:00:00Z'),
      periodEnd: new Date('2026-12-01T00:00:00Z'),
    };
    await instanceA.app.pubSub.publish(Topic.USAGE_UPDATED, 'acct_usage', {
      ...base,
      accountId: 'acct_usage',
      metric: 'storage_mb',
      used: 5,
    });
    await instanceA.app.pubSub.publish(Topic.USAGE_UPDATED, 'acct_other', {
      ...base,
      accountId: 'acct_other',
      metric: 'ai_requests',
      used: 7,
    });
    await instanceA.app.pubSub.publish(Topic.USAGE_UPDATED, 'acct_usage', {
      ...base,
      accountId: 'acct_usage',
      metric: 'ai_requests',
      used: 42,
    });
    expect(await usage.next()).toEqual({
      usageUpdated: {
        metric: 'ai_requests',
        used: 42,
        included: 1000,
        remaining: 0,
        overage: 0,
        periodEnd: '2026-12-01T00:00:00.000Z',
      },
    });
    expect(await usage.staysQuiet(300)).toBe(true);
    usage.close();
  });

  it('reports Redis in readiness', async () => {
    const ready = await fetch(`${instanceA.url}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'up', redis: 'up' } });
  });
});
