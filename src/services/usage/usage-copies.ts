import type Redis from 'ioredis';
import type { Logger } from '../../logging/logger';

/** One counter's figures as copied to Redis. */
export interface CounterFigures {
  used: number;
  peak: number;
  /** The row's revision: a copy is only replaced by a newer one. */
  revision: number;
}

export interface CounterCopy extends CounterFigures {
  accountId: string;
  metric: string;
  periodStart: Date;
  periodEnd: Date;
}

/** Marks a hash filled from PostgreSQL with every metric of the period: a metric absent from it is at 0. */
const COMPLETE = '_complete';
/** Copies outlive their period by a day, for reads just after a renewal. */
const KEEP_AFTER_PERIOD_S = 24 * 3600;

/**
 * Writes each field only if its revision is newer than the stored one, so copies written out of order (two
 * commits racing to Redis) never go backwards. ARGV: expire-at (unix s), complete (0|1), then field/value
 * pairs whose value is `revision:used:peak`.
 */
const WRITE_NEWER = `
for i = 3, #ARGV, 2 do
  local stored = redis.call('HGET', KEYS[1], ARGV[i])
  local storedRevision = stored and tonumber(string.match(stored, '^(%d+)')) or -1
  if tonumber(string.match(ARGV[i + 1], '^(%d+)')) > storedRevision then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], '${COMPLETE}', '1') end
redis.call('EXPIREAT', KEYS[1], ARGV[1])
return 1
`;

/**
 * Redis copies of the usage counters, one hash per account and usage period, for reads that cost no database
 * round trip. PostgreSQL stays the source of truth: a missing or incomplete hash is read from it again, and when
 * Redis is unreachable every read and write goes on from PostgreSQL alone. Copies written while Redis was away
 * were missed, so the hashes they would have changed are dropped when it is back, and rebuilt on the next read.
 */
export class UsageCopies {
  /** Hashes whose copy was missed during an outage (bounded; past the bound every usage hash is dropped). */
  private readonly missed = new Set<string>();
  private missedTooMany = false;
  private static readonly MAX_MISSED = 10_000;

  /**
   * @param namespace names the PostgreSQL database the copies are of (its name): copies of another database
   * (a test run's, a staging copy's) sharing the Redis never pass for this one's.
   */
  constructor(
    private readonly redis: Redis | null,
    private readonly logger: Logger,
    private readonly namespace: string,
  ) {
    redis?.defineCommand('usageWriteNewer', { numberOfKeys: 1, lua: WRITE_NEWER });
    redis?.on('ready', () => void this.dropMissed());
  }

  keyOf(accountId: string, periodStart: Date): string {
    return `usage:${this.namespace}:{${accountId}}:${periodStart.getTime()}`;
  }

  /** Several usage periods' copies (one round trip: see the client's auto-pipelining); null for each without a complete copy. */
  async readMany(
    keys: ReadonlyArray<{ accountId: string; periodStart: Date }>,
  ): Promise<Array<Map<string, CounterFigures> | null>> {
    if (!this.redis || keys.length === 0) return keys.map(() => null);
    try {
      // The client auto-pipelines: concurrent requests' reads leave in one socket write, not one each.
      const redis = this.redis;
      const hashes = await Promise.all(
        keys.map(({ accountId, periodStart }) => redis.hgetall(this.keyOf(accountId, periodStart))),
      );
      return hashes.map(figuresOfHash);
    } catch (error) {
      this.logger.debug({ err: error }, 'usage copies unavailable: reading PostgreSQL');
      return keys.map(() => null);
    }
  }

  /** Stores figures read from PostgreSQL: every counter of the period (`complete`), or those just changed. */
  async write(
    copies: CounterCopy[],
    complete: { accountId: string; periodStart: Date; periodEnd: Date } | null,
  ) {
    if (!this.redis) return;
    const byKey = new Map<string, { periodEnd: Date; fields: string[] }>();
    for (const copy of copies) {
      const key = this.keyOf(copy.accountId, copy.periodStart);
      const entry = byKey.get(key) ?? { periodEnd: copy.periodEnd, fields: [] };
      entry.fields.push(copy.metric, `${copy.revision}:${copy.used}:${copy.peak}`);
      byKey.set(key, entry);
    }
    const completeKey = complete ? this.keyOf(complete.accountId, complete.periodStart) : null;
    if (complete && completeKey && !byKey.has(completeKey))
      byKey.set(completeKey, { periodEnd: complete.periodEnd, fields: [] });
    try {
      const pipeline = this.redis.pipeline();
      for (const [key, { periodEnd, fields }] of byKey) {
        const expireAt = Math.ceil(periodEnd.getTime() / 1000) + KEEP_AFTER_PERIOD_S;
        (pipeline as unknown as WriteNewerPipeline).usageWriteNewer(
          key,
          expireAt,
          key === completeKey ? 1 : 0,
          ...fields,
        );
      }
      const results = await pipeline.exec();
      const failed = results?.find(([error]) => error);
      if (failed) throw failed[0];
    } catch (error) {
      this.logger.debug({ err: error }, 'usage copies not written: they are rebuilt when Redis is back');
      this.rememberMissed([...byKey.keys()]);
      // A timed-out command leaves the connection up (no `ready` will follow): try dropping them shortly too.
      setTimeout(() => void this.dropMissed(), 1000).unref();
    }
  }

  private rememberMissed(keys: string[]): void {
    for (const key of keys) {
      if (this.missed.size >= UsageCopies.MAX_MISSED) {
        this.missedTooMany = true;
        return;
      }
      this.missed.add(key);
    }
  }

  /** Back from an outage: drop the hashes that missed a write, so the next read rebuilds them from PostgreSQL. */
  private async dropMissed(): Promise<void> {
    if (!this.redis || (this.missed.size === 0 && !this.missedTooMany)) return;
    const keys = [...this.missed];
    const everything = this.missedTooMany;
    this.missed.clear();
    this.missedTooMany = false;
    try {
      if (everything) await this.dropAll();
      else await this.redis.unlink(...keys);
      this.logger.info(
        { hashes: everything ? 'all' : keys.length },
        'usage copies rebuilt after a Redis outage',
      );
    } catch (error) {
      this.rememberMissed(keys);
      this.missedTooMany ||= everything;
      this.logger.warn({ err: error }, 'could not drop stale usage copies; will retry on the next reconnect');
    }
  }

  private async dropAll(): Promise<void> {
    if (!this.redis) return;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(
        cursor,
        'MATCH',
        `usage:${this.namespace}:{*`,
        'COUNT',
        1000,
      );
      if (keys.length > 0) await this.redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
}

interface WriteNewerPipeline {
  usageWriteNewer(key: string, expireAt: number, complete: number, ...fields: string[]): void;
}

function figuresOfHash(hash: Record<string, string>): Map<string, CounterFigures> | null {
  if (!hash[COMPLETE]) return null;
  const figures = new Map<string, CounterFigures>();
  for (const [metric, value] of Object.entries(hash)) {
    if (metric !== COMPLETE) figures.set(metric, parseFigures(value));
  }
  return figures;
}

function parseFigures(value: string): CounterFigures {
  const [revision, used, peak] = value.split(':').map(Number);
  return { revision: revision ?? 0, used: used ?? 0, peak: peak ?? 0 };
}
