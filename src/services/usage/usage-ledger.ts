import type { EntityManager } from '@mikro-orm/postgresql';
import type { OverLimitRule } from '../../entities';

/**
 * The SQL of one usage transaction, written by hand: a batch of 100 records is five statements whatever its
 * size (the ORM's unit of work would be one per row). Every function runs inside the caller's transaction.
 */

export interface CounterKey {
  accountId: string;
  metric: string;
  periodStart: Date;
  periodEnd: Date;
  included: number | null;
  overLimit: OverLimitRule;
}

/** A usage_counter row as the transaction reads and changes it. */
export interface LockedCounter {
  id: string;
  accountId: string;
  metric: string;
  periodStart: Date;
  periodEnd: Date;
  used: number;
  peak: number;
  levelAt: Date | null;
  thresholdNotified: number;
  revision: number;
}

export function counterKeyOf(accountId: string, metric: string, periodStart: Date): string {
  return `${accountId}\u0000${metric}\u0000${periodStart.getTime()}`;
}

/**
 * Creates the counters that do not exist yet and locks all of them (an upsert locks the row it touches) until
 * the transaction ends: this lock is what makes check-and-increment atomic. Rows are locked in one order
 * (sorted by key), so two batches touching the same counters cannot deadlock. It also records the allowance in
 * force, which the overage reporter bills by.
 */
export async function lockCounters(
  em: EntityManager,
  keys: CounterKey[],
  now: Date,
): Promise<Map<string, LockedCounter>> {
  const sorted = [...keys].sort((a, b) =>
    counterKeyOf(a.accountId, a.metric, a.periodStart).localeCompare(
      counterKeyOf(b.accountId, b.metric, b.periodStart),
    ),
  );
  const params: unknown[] = [];
  const values = sorted.map((key) => {
    params.push(
      crypto.randomUUID(),
      now,
      now,
      key.accountId,
      key.metric,
      key.periodStart,
      key.periodEnd,
      key.included,
      key.overLimit,
    );
    return '(?, ?, ?, ?, ?, ?, ?, ?, ?)';
  });
  const rows = await em.execute<CounterRow[]>(
    `insert into usage_counter (id, created_at, updated_at, account_id, metric, period_start, period_end, included, over_limit)
     values ${values.join(', ')}
     on conflict (account_id, metric, period_start) do update
       set included = excluded.included, over_limit = excluded.over_limit, period_end = excluded.period_end
     returning id, account_id, metric, period_start, period_end, used, peak, level_at, threshold_notified, revision`,
    params,
  );
  return new Map(
    rows.map((row) => {
      const counter = lockedCounterOf(row);
      return [counterKeyOf(counter.accountId, counter.metric, counter.periodStart), counter];
    }),
  );
}

/** The (account, idempotency key) pairs among `keys` that are already recorded. */
export async function recordedKeys(
  em: EntityManager,
  keys: Array<{ accountId: string; idempotencyKey: string }>,
): Promise<Set<string>> {
  const params = keys.flatMap((key) => [key.accountId, key.idempotencyKey]);
  const rows = await em.execute<Array<{ account_id: string; idempotency_key: string }>>(
    `select account_id, idempotency_key from usage_record
     where (account_id, idempotency_key) in (${keys.map(() => '(?, ?)').join(', ')})`,
    params,
  );
  return new Set(rows.map((row) => recordKeyOf(row.account_id, row.idempotency_key)));
}

export function recordKeyOf(accountId: string, idempotencyKey: string): string {
  return `${accountId}\u0000${idempotencyKey}`;
}

export interface NewUsageRecord {
  accountId: string;
  metric: string;
  quantity: number;
  idempotencyKey: string;
  occurredAt: Date;
  periodStart: Date;
}

/**
 * Inserts the records; returns how many were new. Fewer than given means another transaction recorded one of
 * the keys since `recordedKeys` looked (a race on the same key under another metric's lock): the caller retries.
 */
export async function insertRecords(
  em: EntityManager,
  records: NewUsageRecord[],
  now: Date,
): Promise<number> {
  if (records.length === 0) return 0;
  const params: unknown[] = [];
  const values = records.map((record) => {
    params.push(
      crypto.randomUUID(),
      now,
      now,
      record.accountId,
      record.metric,
      record.quantity,
      record.idempotencyKey,
      record.occurredAt,
      record.periodStart,
    );
    return '(?, ?, ?, ?, ?, ?, ?, ?, ?)';
  });
  const rows = await em.execute<Array<{ id: string }>>(
    `insert into usage_record (id, created_at, updated_at, account_id, metric, quantity, idempotency_key, occurred_at, period_start)
     values ${values.join(', ')}
     on conflict (account_id, idempotency_key) do nothing
     returning id`,
    params,
  );
  return rows.length;
}

/** Writes the counters' new figures; each changed row's revision goes up by one. Returns the new revisions. */
export async function saveCounters(
  em: EntityManager,
  counters: LockedCounter[],
  now: Date,
): Promise<Map<string, number>> {
  if (counters.length === 0) return new Map();
  const params: unknown[] = [now];
  const values = counters.map((counter) => {
    params.push(counter.id, counter.used, counter.peak, counter.levelAt, counter.thresholdNotified);
    return '(?::uuid, ?::bigint, ?::bigint, ?::timestamptz, ?::smallint)';
  });
  const rows = await em.execute<Array<{ id: string; revision: string }>>(
    `update usage_counter as c
     set used = v.used, peak = v.peak, level_at = v.level_at, threshold_notified = v.threshold_notified,
         revision = c.revision + 1, updated_at = ?
     from (values ${values.join(', ')}) as v(id, used, peak, level_at, threshold_notified)
     where c.id = v.id
     returning c.id, c.revision`,
    params,
  );
  return new Map(rows.map((row) => [row.id, Number(row.revision)]));
}

interface CounterRow {
  id: string;
  account_id: string;
  metric: string;
  period_start: Date;
  period_end: Date;
  used: string | number;
  peak: string | number;
  level_at: Date | null;
  threshold_notified: number;
  revision: string | number;
}

function lockedCounterOf(row: CounterRow): LockedCounter {
  return {
    id: row.id,
    accountId: row.account_id,
    metric: row.metric,
    periodStart: new Date(row.period_start),
    periodEnd: new Date(row.period_end),
    used: Number(row.used),
    peak: Number(row.peak),
    levelAt: row.level_at ? new Date(row.level_at) : null,
    thresholdNotified: Number(row.threshold_notified),
    revision: Number(row.revision),
  };
}
