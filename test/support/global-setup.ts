import { Client } from 'pg';
import Redis from 'ioredis';
import { createTemplateDatabase, LOCAL_POSTGRES_URL, startEmbeddedPostgresForTests } from './postgres-server';

/**
 * Once per `jest` run: find a PostgreSQL (TEST_DATABASE_URL, else the local one, else an embedded one), build a
 * migrated template database that every test file clones, and find out whether Redis is reachable.
 */
export default async function globalSetup(): Promise<void> {
  // TEST_POSTGRES=embedded forces the embedded server, to check that fallback on a machine that has PostgreSQL.
  const forceEmbedded = process.env.TEST_POSTGRES === 'embedded';
  let serverUrl = forceEmbedded ? null : (process.env.TEST_DATABASE_URL ?? null);
  if (!serverUrl && !forceEmbedded && (await canConnect(LOCAL_POSTGRES_URL))) serverUrl = LOCAL_POSTGRES_URL;
  if (!serverUrl) serverUrl = await startEmbeddedPostgresForTests();
  process.env.TEST_POSTGRES_SERVER_URL = serverUrl;
  process.env.TEST_TEMPLATE_DATABASE = await createTemplateDatabase(serverUrl);

  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  process.env.TEST_REDIS_URL = redisUrl;
  const redisUp = await pingRedis(redisUrl);
  process.env.TEST_REDIS_AVAILABLE = redisUp ? '1' : '0';
  if (!redisUp) {
    if (process.env.CI === 'true')
      throw new Error(`Redis is not reachable at ${redisUrl}, and CI=true requires it`);
    console.warn(
      `\n\n!!! Redis is not reachable at ${redisUrl}: the Redis tests are SKIPPED. Set REDIS_URL. !!!\n\n`,
    );
  }
}

async function canConnect(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function pingRedis(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1500,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
