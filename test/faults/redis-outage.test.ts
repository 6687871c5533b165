import Redis from 'ioredis';
import { Topic } from '../../src/pubsub/topics';
import { redisChannelName } from '../../src/pubsub/redis-pubsub';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startTestEmulator, type TestEmulator } from '../support/emulator';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis';
import { describeWithRedis } from '../support/redis';
import { startTestService, type TestService } from '../support/service';
import { waitUntil } from '../support/wait';
import { connectSocket, subscribe, waitForRedisSubscribers } from '../support/ws-client';

/**
 * Issue 8, faults: Redis (a private one the test kills and starts again, empty) goes away under two instances.
 * GraphQL keeps answering, queries and mutations, promptly; readiness names Redis as down; and a subscriber
 * connected to instance B before the outage receives, over the same subscription, an `accountUpdated`
 * published by instance A after Redis is back: the server re-subscribes its Redis channels by itself. What is
 * published while Redis is down is lost (pub/sub keeps nothing): a client re-reads when it needs to be sure.
 * Usage recording while Redis is down is test/integration/usage-redis.test.ts.
 */

jest.setTimeout(60_000);

const UPDATE_CUSTOMER = `mutation($email: String!) { updateCustomer(input: { email: $email }) { email } }`;
const VIEWER = '{ viewer { id customer { email } plan { key } } }';
/** What a GraphQL answer may take while Redis is away: no waiting on a reconnect in the request path. */
const PROMPT_MS = 2000;

interface AccountUpdate {
  accountUpdated: { id: string; customer: { email: string } | null };
}

describeWithRedis('Redis down under two instances', () => {
  let database: TestDatabase;
  let emulator: TestEmulator;
  let redis: PrivateRedis;
  let a: TestService;
  let b: TestService;
  let observer: Redis;
  let extra: TestService | null = null;
  const clients: Array<{ dispose(): void | Promise<void> }> = [];

  beforeAll(async () => {
    [database, emulator, redis] = await Promise.all([
      createTestDatabase(),
      startTestEmulator(),
      startPrivateRedis(),
    ]);
    const env = { ...emulator.env, REDIS_URL: redis.url, RECONCILE_INTERVAL_MS: '0' };
    [a, b] = await Promise.all([startTestService({ database, env }), startTestService({ database, env })]);
    // Gives up at once while Redis is down, so it never holds the test open.
    observer = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    observer.on('error', () => undefined);
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await Promise.all([a?.stop(), b?.stop(), extra?.stop()]);
    observer?.disconnect();
    await redis?.stop();
    await emulator?.close();
    await database?.drop();
  });

  async function readiness(instance: TestService) {
    const response = await fetch(`${instance.url}/readyz`);
    return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
  }

  async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
    const started = Date.now();
    const result = await work();
    return { result, ms: Date.now() - started };
  }

  it('keeps answering GraphQL, reports Redis down, and resumes live updates on the same subscription', async () => {
    const accountId = 'acct_redis_outage';
    const token = await a.token(accountId, { email: 'first@example.com' });
    const client = connectSocket(b.url, `Bearer ${token}`);
    clients.push(client);
    const updates = subscribe<AccountUpdate>(
      client,
      'subscription { accountUpdated { id customer { email } } }',
    );
    const channel = redisChannelName(database.name, `${Topic.ACCOUNT_UPDATED}:${accountId}`);
    const leaving = connectSocket(b.url, `Bearer ${await b.token('acct_redis_leaving')}`);
    const left = subscribe<AccountUpdate>(leaving, 'subscription { accountUpdated { id } }');
    await waitForRedisSubscribers(observer, channel);
    await waitForRedisSubscribers(
      observer,
      redisChannelName(database.name, `${Topic.ACCOUNT_UPDATED}:acct_redis_leaving`),
    );
    // Before: a change on A reaches the subscriber on B.
    expect(
      (await a.graphql(UPDATE_CUSTOMER, { token, variables: { email: 'before@example.com' } })).errors,
    ).toBeUndefined();
    expect((await updates.next(5000)).accountUpdated.customer?.email).toBe('before@example.com');

    // A third instance, to be shut down during the outage.
    extra = await startTestService({ database, env: { ...emulator.env, REDIS_URL: redis.url } });

    await redis.kill();
    // Long enough for the clients' reconnect back-off to grow: a queued command would now wait for seconds.
    await new Promise((done) => setTimeout(done, 5000));

    // Queries and mutations on both instances answer, and promptly.
    for (const instance of [a, b]) {
      const query = await timed(() => instance.graphql<{ viewer: { id: string } }>(VIEWER, { token }));
      expect(query.result.errors).toBeUndefined();
      expect(query.result.data?.viewer.id).toBe(accountId);
      expect(query.ms).toBeLessThan(PROMPT_MS);
    }
    const during = await timed(() =>
      a.graphql(UPDATE_CUSTOMER, { token, variables: { email: 'during@example.com' } }),
    );
    expect(during.result.errors).toBeUndefined();
    expect(during.ms).toBeLessThan(PROMPT_MS);
    // Readiness names Redis (and only Redis) as down, on both.
    for (const instance of [a, b]) {
      const ready = await readiness(instance);
      expect(ready.status).toBe(503);
      expect(ready.body.checks).toEqual({ database: 'up', redis: 'down' });
    }
    // The socket to B is not Redis's: the subscription stays open through the outage.
    expect(updates.errors).toEqual([]);
    // A subscriber leaving during the outage, and an instance shutting down during it: neither leaves an
    // unhandled rejection behind (which would end the process) nor waits for Redis.
    left.close();
    await leaving.dispose();
    const stopping = await timed(() => (extra as TestService).stop());
    extra = null;
    expect(stopping.ms).toBeLessThan(PROMPT_MS);
    await new Promise((done) => setTimeout(done, 1500)); // past the clients' next give-up of queued commands

    await redis.start();
    await waitUntil(
      async () => (await readiness(a)).status === 200 && (await readiness(b)).status === 200,
      'both instances are ready again',
      15_000,
    );
    // B subscribes its channels again by itself (Redis came back empty) ...
    await waitForRedisSubscribers(observer, channel);
    // ... so a change on A after the outage reaches the subscriber that connected before it.
    expect(
      (await a.graphql(UPDATE_CUSTOMER, { token, variables: { email: 'after@example.com' } })).errors,
    ).toBeUndefined();
    // (A publish sent in the instant before the publisher noticed the outage may still arrive first, late; each
    // message re-reads the account, so it shows what was committed by then.)
    let update = await updates.next(5000);
    while (update.accountUpdated.customer?.email !== 'after@example.com') update = await updates.next(5000);
    expect(update).toEqual({ accountUpdated: { id: accountId, customer: { email: 'after@example.com' } } });
    expect(updates.errors).toEqual([]);
    updates.close();
  });
});
