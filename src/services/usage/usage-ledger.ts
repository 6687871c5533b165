import type { EntityManager } from '@mikro-orm/postgresql';
import type { Knex } from 'knex';
import type { OverLimitRule } from '../../entities';

/**
 * The SQL of one usage transaction, written by hand for the hot path: three statements whatever the batch size
 * (the ORM's unit of work would be one per row), each with a single JSON parameter, so a batch of 100 records
 * is neither 900 bound values nor SQL text rebuilt per call. Every function runs in the caller's transaction.
 * This is the transactional path (a call crossing a threshold); most calls are one `usage_record_group` call,
 * which does the same in PostgreSQL (`usage-record-statement.ts`, ADR 0019).
 */

export interface CounterKey {
  accountId: string;
  metric: string;
  /** A gauge's new period starts at the level the previous one ended on (seats do not vanish at renewal). */
  kind: 'counter' | 'gauge';
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
  /** The period's allowance (null = unlimited): hard limits are checked against it. */
  included: number | null;
  /** The allowance in force for a whole period (null = unlimited): what the rest of the period accrues at. */
  planIncluded: number | null;
  /** The period's rule past the allowance, as stored (billable once billable). */
  overLimit: OverLimitRule;
  /** Held by live reservations (their expired holds already dropped by the lock statement). */
  reserved: number;
  /** The lock statement dropped expired holds of this counter: it must be saved even if nothing else changes. */
  droppedHolds: boolean;
  thresholdNotified: number;
  revision: number;
}

export interface NewUsageRecord {
  accountId: string;
  metric: string;
  quantity: number;
  idempotencyKey: string;
  occurredAt: Date;
  periodStart: Date;
}

export function counterKeyOf(accountId: string, metric: string, periodStart: Date): string {
  return `${accountId}\u0000${metric}\u0000${periodStart.getTime()}`;
}

export function recordKeyOf(accountId: string, idempotencyKey: string): string {
  return `${accountId}\u0000${idempotencyKey}`;
}

/**
 * Creates the counters that do not exist yet and locks all of them (an upsert locks the rows it touches) until
 * the transaction ends: this lock is what makes check-and-increment atomic. Rows are locked in one order
 * (sorted by key), so two batches touching the same counters cannot deadlock. A new counter starts with the
 * plan's allowance; an existing one keeps the period's (a plan change inside the period weighs it, see
 * `allowance-settlement.ts`), and only the rule over the limit follows the account's state. Holds of
 * reservations past their expiry are dropped under the same locks (their sums come back in `reserved`, and
 * `saveRecordsAndCounters` writes the counters' new totals). In the same statement: which idempotency keys are
 * already recorded.
 */
export async function lockCountersAndFindRecorded(
  em: EntityManager,
  keys: CounterKey[],
  records: Array<{ accountId: string; idempotencyKey: string }>,
  now: Date,
): Promise<{ counters: Map<string, LockedCounter>; recorded: Map<string, RecordedUse> }> {
  const lookups = records.map((record) => ({
    account_id: record.accountId,
    idempotency_key: record.idempotencyKey,
  }));
  const { rows } = await transactionOf(em).raw<{ rows: LockedOrRecordedRow[] }>(LOCK_AND_FIND_RECORDED_SQL, [
    JSON.stringify(wantedCountersOf(keys)),
    now,
    now,
    now,
    now,
    JSON.stringify(lookups),
  ]);
  return lockedAndRecordedOf(rows);
}

/** The counters to create or lock, as rows, sorted by key: every transaction locks them in the same order. */
export function wantedCountersOf(keys: CounterKey[]) {
  // Code-unit order, never localeCompare: a locale may ignore the separator, and every instance must agree.
  const sorted = [...keys].sort((a, b) => {
    const [left, right] = [
      counterKeyOf(a.accountId, a.metric, a.periodStart),
      counterKeyOf(b.accountId, b.metric, b.periodStart),
    ];
    return left < right ? -1 : left > right ? 1 : 0;
  });
  return sorted.map((key) => ({
    id: crypto.randomUUID(),
    account_id: key.accountId,
    metric: key.metric,
    period_start: key.periodStart.toISOString(),
    period_end: key.periodEnd.toISOString(),
    included: key.included,
    over_limit: key.overLimit,
    kind: key.kind,
  }));
}

/** One row of `LOCK_AND_FIND_RECORDED_SQL`: a locked counter, or a record already made under a key. */
interface LockedOrRecordedRow {
  counter: CounterRow | null;
  recorded: RecordedRow | null;
}

function lockedAndRecordedOf(rows: LockedOrRecordedRow[]): {
  counters: Map<string, LockedCounter>;
  recorded: Map<string, RecordedUse>;
} {
  const locked = new Map<string, LockedCounter>();
  const recorded = new Map<string, RecordedUse>();
  for (const row of rows) {
    if (row.counter) {
      const counter = lockedCounterOf(row.counter);
      locked.set(counterKeyOf(counter.accountId, counter.metric, counter.periodStart), counter);
    } else if (row.recorded) {
      recorded.set(recordKeyOf(row.recorded.account_id, row.recorded.idempotency_key), {
        metric: row.recorded.metric,
        quantity: Number(row.recorded.quantity),
      });
    }
  }
  return { counters: locked, recorded };
}

/**
 * Parameters: the wanted counters (JSON), now four times (created, updated, the expiry's update and its
 * cut-off), the record lookups (JSON). See `lockCountersAndFindRecorded`.
 */
const LOCK_AND_FIND_RECORDED_SQL = `with wanted as (
     select * from jsonb_to_recordset(?::jsonb)
       as w(id uuid, account_id varchar, metric varchar, period_start timestamptz, period_end timestamptz,
            included bigint, over_limit varchar, kind varchar)
   ),
   locked as (
     insert into usage_counter (id, created_at, updated_at, account_id, metric, period_start, period_end, included,
                                plan_included, over_limit, used, peak, level_at)
     select w.id, ?, ?, w.account_id, w.metric, w.period_start, w.period_end, w.included, w.included, w.over_limit,
            coalesce(previous.used, 0), coalesce(previous.used, 0), previous.level_at
     from wanted w
     left join lateral (
       select p.used, p.level_at from usage_counter p
       where w.kind = 'gauge' and p.account_id = w.account_id and p.metric = w.metric
         and p.period_start < w.period_start
       order by p.period_start desc limit 1
     ) previous on true
     -- The rows keep the array's order: they are locked in the sorted order.
     on conflict (account_id, metric, period_start) do update
       -- Once a period's overage was billable it stays so: use past the allowance made while the subscription
       -- was active is billed even if it falls past due later (further use past it is refused then).
       set over_limit = case when excluded.over_limit = 'bill_overage' then excluded.over_limit
                             else usage_counter.over_limit end
     returning id, account_id, metric, period_start, period_end, used, peak, level_at, included, plan_included,
               over_limit, reserved,
               threshold_notified, revision
   ),
   -- An UPDATE skips rows another transaction changed first (it re-checks them), so each expired hold is
   -- dropped by exactly one transaction; it runs once the counters above are locked (it reads their ids).
   expired as (
     update usage_reservation r set status = 'expired', updated_at = ?
     where r.counter_id in (select id from locked where reserved > 0) and r.status = 'held' and r.expires_at <= ?
     returning r.counter_id, r.quantity
   ),
   dropped as (select counter_id, sum(quantity) as quantity from expired group by counter_id),
   seen as (
     select r.account_id, r.idempotency_key, r.metric, r.quantity from usage_record_key r
     join jsonb_to_recordset(?::jsonb) as k(account_id varchar, idempotency_key varchar)
       on r.account_id = k.account_id and r.idempotency_key = k.idempotency_key
   )
   select row_to_json(l) as counter, null::json as recorded
     from (select locked.*, locked.reserved - coalesce(dropped.quantity, 0) as live_reserved,
                  coalesce(dropped.quantity, 0) as dropped
             from locked left join dropped on dropped.counter_id = locked.id) l
   union all
   select null, row_to_json(seen) from seen`;

/**
 * Inserts the new records and their idempotency keys and saves the counters' new figures (each changed row's
 * revision goes up by one) in one statement. `inserted` below the number of records means another transaction
 * recorded one of the keys since they were looked up (a race on one key under another metric's lock, or a
 * lookup whose snapshot predates the commit it waited for): the caller rolls back and retries.
 */
export async function saveRecordsAndCounters(
  em: EntityManager,
  records: NewUsageRecord[],
  counters: LockedCounter[],
  now: Date,
): Promise<{ inserted: number; revisions: Map<string, number> }> {
  const newRecords = records.map((record) => ({
    id: crypto.randomUUID(),
    account_id: record.accountId,
    metric: record.metric,
    quantity: record.quantity,
    idempotency_key: record.idempotencyKey,
    occurred_at: record.occurredAt.toISOString(),
    period_start: record.periodStart.toISOString(),
  }));
  const figures = counters.map((counter) => ({
    id: counter.id,
    used: counter.used,
    peak: counter.peak,
    reserved: counter.reserved,
    level_at: counter.levelAt?.toISOString() ?? null,
    threshold_notified: counter.thresholdNotified,
  }));
  const { rows } = await transactionOf(em).raw<{
    rows: Array<{ inserted: string; revisions: Array<{ id: string; revision: string }> | null }>;
  }>(
    `with new_records as (
       select * from jsonb_to_recordset(?::jsonb)
         as r(id uuid, account_id varchar, metric varchar, quantity bigint, idempotency_key varchar,
              occurred_at timestamptz, period_start timestamptz)
     ),
     -- The key is the guarantee (usage_record is partitioned by day and cannot hold a unique key across days):
     -- a key another transaction claimed since the lookup makes "inserted" short, and the caller retries.
     inserted as (
       insert into usage_record_key (account_id, idempotency_key, metric, quantity, created_at)
       select account_id, idempotency_key, metric, quantity, ? from new_records
       on conflict (account_id, idempotency_key) do nothing
       returning 1
     ),
     written as (
       insert into usage_record (id, created_at, updated_at, account_id, metric, quantity, idempotency_key, occurred_at, period_start)
       select id, ?, ?, account_id, metric, quantity, idempotency_key, occurred_at, period_start from new_records
     ),
     saved as (
       update usage_counter as c
       set used = v.used, peak = v.peak, reserved = v.reserved, level_at = v.level_at,
           threshold_notified = v.threshold_notified, revision = c.revision + 1, updated_at = ?
       from jsonb_to_recordset(?::jsonb)
         as v(id uuid, used bigint, peak bigint, reserved bigint, level_at timestamptz, threshold_notified smallint)
       where c.id = v.id
       returning c.id, c.revision
     )
     select (select count(*) from inserted) as inserted, (select json_agg(saved) from saved) as revisions`,
    [JSON.stringify(newRecords), now, now, now, now, JSON.stringify(figures)],
  );
  const [result] = rows;
  return {
    inserted: Number(result?.inserted ?? 0),
    revisions: new Map((result?.revisions ?? []).map((row) => [row.id, Number(row.revision)])),
  };
}

function transactionOf(em: EntityManager): Knex.Transaction {
  const transaction = em.getTransactionContext<Knex.Transaction>();
  if (!transaction) throw new Error('The usage ledger runs inside a transaction (em.transactional)');
  return transaction;
}

export interface CounterRow {
  id: string;
  account_id: string;
  metric: string;
  period_start: string;
  period_end: string;
  used: string | number;
  peak: string | number;
  level_at: string | null;
  included: string | number | null;
  plan_included: string | number | null;
  over_limit: string;
  /** What live reservations hold once the expired ones are dropped. */
  live_reserved: string | number;
  /** What the statement dropped of expired holds: the counter must be saved with `live_reserved`. */
  dropped: string | number;
  threshold_notified: number;
  revision: string | number;
}

interface RecordedRow {
  account_id: string;
  idempotency_key: string;
  metric: string;
  quantity: string | number;
}

/** What an idempotency key was already used for: a retry must be the same use. */
export interface RecordedUse {
  metric: string;
  quantity: number;
}

export function lockedCounterOf(row: CounterRow): LockedCounter {
  return {
    id: row.id,
    accountId: row.account_id,
    metric: row.metric,
    periodStart: new Date(row.period_start),
    periodEnd: new Date(row.period_end),
    used: Number(row.used),
    peak: Number(row.peak),
    levelAt: row.level_at ? new Date(row.level_at) : null,
    included: row.included === null ? null : Number(row.included),
    planIncluded: row.plan_included === null ? null : Number(row.plan_included),
    overLimit: row.over_limit === 'bill_overage' ? 'bill_overage' : 'block',
    reserved: Number(row.live_reserved),
    droppedHolds: Number(row.dropped) > 0,
    thresholdNotified: Number(row.threshold_notified),
    revision: Number(row.revision),
  };
}
