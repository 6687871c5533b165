import Redis from 'ioredis';
import type { DestinationStream } from 'pino';
import type { Config } from '../config';
import { isDatabaseReachable, type Orm, openDatabase } from '../database/database';
import type { ReadinessCheck } from '../http/health.routes';
import type { PinoLogger } from '../logging/pino-logger';
import { BillingMetrics } from '../observability/metrics';
import { METRIC_KEYS } from '../services/plans/plan.types';
import { InMemoryPubSub } from '../pubsub/in-memory-pubsub';
import type { BillingPubSub } from '../pubsub/pubsub';
import { RedisBillingPubSub } from '../pubsub/redis-pubsub';

export interface AppOptions {
  /** Apply pending migrations before serving (development and tests). */
  migrate?: boolean;
  onQuery?: (sql: string) => void;
  /** Where the JSON log lines go (default stdout): tests read them. */
  logDestination?: DestinationStream;
}

/** What the service stands on: the database, pub/sub, the fast Redis connection, metrics. */
export interface Infrastructure {
  orm: Orm;
  pubSub: BillingPubSub;
  /** The usage copies' and rate limits' connection (null without Redis): fail-fast, see `fastRedisClient`. */
  fastRedis: Redis | null;
  /** One registry per instance, never prom-client's global one: tests run several instances in one process. */
  metrics: BillingMetrics;
  readinessChecks: ReadinessCheck[];
  close(): Promise<void>;
}

export async function openInfrastructure(
  config: Config,
  options: AppOptions,
  logger: PinoLogger,
): Promise<Infrastructure> {
  const orm = await openDatabase(
    {
      url: config.database.url,
      poolMax: config.database.poolMax,
      onQuery: options.onQuery,
      onDriverMessage: (level, message) => logger[level]({ driver: message }, 'database driver'),
    },
    { migrate: options.migrate ?? false },
  );
  const redisPubSub = config.redis
    ? new RedisBillingPubSub(config.redis.url, databaseNameOf(config.database.url))
    : null;
  const pubSub: BillingPubSub = redisPubSub ?? new InMemoryPubSub();
  const readinessChecks: ReadinessCheck[] = [{ name: 'database', check: () => isDatabaseReachable(orm) }];
  if (redisPubSub) readinessChecks.push({ name: 'redis', check: () => pingRedis(redisPubSub.client) });
  const fastRedis = config.redis ? fastRedisClient(config.redis.url) : null;
  if (fastRedis && !(await connectedWithin(fastRedis, FAST_REDIS_CONNECT_MS)))
    logger.warn(
      { waitedMs: FAST_REDIS_CONNECT_MS },
      'Redis (usage copies, rate limits) is not connected yet: both run from this instance until it is',
    );
  if (config.isProduction && !config.metrics.token)
    logger.warn({}, 'METRICS_TOKEN is unset: GET /metrics is open to anyone who can reach this port');
  const metrics = new BillingMetrics({ usageMetricKeys: METRIC_KEYS, defaultMetrics: true });
  return {
    orm,
    pubSub,
    fastRedis,
    metrics,
    readinessChecks,
    close: async () => {
      fastRedis?.disconnect();
      await Promise.allSettled([orm.close(), pubSub.close()]);
      metrics.close();
    },
  };
}

/**
 * The usage copies' and rate limits' own connection. It fails fast while Redis is away (no offline queue, a
 * short command timeout), so recording and reading fall back to PostgreSQL at once instead of waiting.
 */
function fastRedisClient(url: string): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: 500,
    maxRetriesPerRequest: 0,
    // Commands issued in the same tick (many requests' usage reads) share one write: fewer syscalls under load.
    enableAutoPipelining: true,
  });
  client.on('error', () => undefined);
  return client;
}

/**
 * How long start-up waits for the fail-fast connection. Without the wait, requests served in the first moments
 * after start (before the connection is up) found it unwritable, and the instance counted rate limits on its own
 * for the next 5 s (CI saw two instances each let an account's budget through).
 */
const FAST_REDIS_CONNECT_MS = 5_000;

/** True once `client` is connected, false if `ms` pass first (Redis away: the service starts without it). */
function connectedWithin(client: Redis, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((done) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      done(false);
    }, ms);
    timer.unref();
    const onReady = () => {
      clearTimeout(timer);
      done(true);
    };
    client.once('ready', onReady);
  });
}

async function pingRedis(client: Redis): Promise<boolean> {
  return (await client.ping()) === 'PONG';
}

/** The database's name, from its URL (`postgres://host/billing` → `billing`): names the usage copies in Redis. */
export function databaseNameOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}
