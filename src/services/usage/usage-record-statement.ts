import type { Settled } from '../../database/group-committer';
import {
  counterKeyOf,
  type LockedCounter,
  lockedCounterOf,
  type NewUsageRecord,
  wantedCountersOf,
} from './usage-ledger';
import { limitExceeded, metricNotAvailable } from './usage-limits';
import { usageFiguresOf } from './usage-reader';
import {
  type ChangedCounter,
  counterKeysByRecord,
  counterKeysOf,
  type PlannedEvent,
  keyReused,
  type RecordingResult,
  type RecordMode,
  type RecordOutcome,
} from './usage-recording';
import { arrayLiteral, runStatement } from './usage-statement';
import type { UsageWriting } from './usage-writing';

/**
 * `usage_record_group` (migration `Migration20261207210000_usage_record_columns`) raises this when a counter
 * crosses a threshold the account is mailed about: nothing was written, and the group takes the transactional
 * path, which queues the mail in the same transaction as the records.
 */
export const THRESHOLD_TO_TELL = 'UB001';
/**
 * …and (its previous, JSON version) this when another transaction recorded one of the keys since the lookup:
 * rolled back, run it again. The current version fails with `unique_violation` on `KEY_INDEX` instead.
 */
export const KEY_RACE = 'UB002';
/** The index that keeps a key once per account: a call whose key it refuses was raced, and runs again. */
export const KEY_INDEX = 'usage_record_key_pkey';

/** One row of `usage_record_group`: a record's outcome (`item` set) or a saved counter (`counter` set). */
interface StatementRow {
  item: number | null;
  outcome: 'recorded' | 'duplicate' | 'conflict' | 'limit' | 'not_available' | null;
  used: string | null;
  peak: string | null;
  reserved: string | null;
  included: string | null;
  earlier_metric: string | null;
  earlier_quantity: string | null;
  counter: SavedCounterRow | null;
}

type SavedCounterRow = Parameters<typeof lockedCounterOf>[0] & { reserved: string | number };

/**
 * Whether the call looks its keys up (`look-up`), or says they are new (`unseen`: a first attempt's). An unseen
 * call in which nothing can be refused skips the lookup and the per-record decisions in PostgreSQL (ADR 0034); a
 * key recorded before then fails it with `unique_violation` on `KEY_INDEX`, nothing written, and the caller runs
 * it again with `look-up` (`usage-record-retries.ts`).
 */
export type KeyLookup = 'look-up' | 'unseen';

/**
 * Records a group of single records (`each-own`) or a batch (`all-or-none`) in one round trip: one call of
 * `usage_record_group`, its own implicit transaction, no BEGIN/COMMIT around it. The function decides each record
 * as `decide()` would (ADR 0019) and answers it with its own row, or, when it went the fast way (every record
 * recorded, ADR 0034), answers only the saved counters, from which each record's figures follow; this turns the
 * rows into the same result the transactional path gives. Throws the function's errors (a threshold to tell, a
 * key race or an unseen key already recorded, a deadlock) as they are.
 */
export async function recordInOneStatement(
  writing: UsageWriting,
  planned: PlannedEvent[],
  mode: RecordMode,
  now: Date,
  keys: KeyLookup = 'look-up',
): Promise<RecordingResult> {
  const counterOfRecord = counterKeysByRecord(planned);
  const counters = wantedCountersOf(counterKeysOf(planned, counterOfRecord));
  const slots = new Map(
    counters.map((row, index) => [
      counterKeyOf(row.account_id, row.metric, new Date(row.period_start)),
      index + 1,
    ]),
  );
  const records = recordsOf(
    planned,
    counterOfRecord.map((key) => slots.get(key) as number),
    now,
  );
  const rows = await runStatement<StatementRow>(
    writing.orm,
    'select * from usage_record_group(?::jsonb, ?::int[], ?::int[], ?::bigint[], ?::varchar[], ?::timestamptz[], ?, ?, ?, ?)',
    [
      JSON.stringify(
        counters.map((counter, index) => ({ slot: index + 1, ...counter, ...records.rules[index] })),
      ),
      arrayLiteral(records.slot),
      arrayLiteral(records.prev),
      arrayLiteral(records.quantity),
      arrayLiteral(records.key),
      arrayLiteral(records.occurredAt),
      now,
      mode === 'all-or-none',
      keys === 'unseen',
      // A call that goes the fast way answers its counters, not a row per record (recordedByCounter).
      true,
    ],
  );
  return resultOf(planned, counterOfRecord, rows, mode);
}

/**
 * The records as the function takes them: one array per column, in arrival order (what a record shares with its
 * counter, its account, metric, period and allowance's rule, is sent once, with the counter). `prev` is the item
 * before it in this call with the same account and key (null if none); `occurredAt` is null for a use dated now.
 */
function recordsOf(planned: PlannedEvent[], slotOfRecord: number[], now: Date) {
  // By account, then key (a key is its account's): no string made per record to find an earlier use of it.
  const lastOfKey = new Map<string, Map<string, number>>();
  const rules: Array<{ enabled: boolean; rule: string; late: boolean }> = [];
  const columns = {
    slot: [] as number[],
    prev: [] as Array<number | null>,
    quantity: [] as number[],
    key: [] as string[],
    occurredAt: [] as Array<Date | null>,
  };
  const nowTime = now.getTime();
  planned.forEach(({ event, allowance, late }, item) => {
    let accountKeys = lastOfKey.get(event.accountId);
    if (!accountKeys) {
      accountKeys = new Map();
      lastOfKey.set(event.accountId, accountKeys);
    }
    columns.prev.push(accountKeys.get(event.idempotencyKey) ?? null);
    accountKeys.set(event.idempotencyKey, item);
    const slot = slotOfRecord[item] as number;
    // Every record of a counter has the same account and metric (so allowance) and period (so lateness).
    rules[slot - 1] ??= { enabled: allowance.enabled, rule: allowance.overLimit, late };
    columns.slot.push(slot);
    columns.quantity.push(event.quantity);
    columns.key.push(event.idempotencyKey);
    columns.occurredAt.push(event.occurredAt.getTime() === nowTime ? null : event.occurredAt);
  });
  return { ...columns, rules };
}

function resultOf(
  planned: PlannedEvent[],
  counterOfRecord: string[],
  rows: StatementRow[],
  mode: RecordMode,
): RecordingResult {
  const saved = new Map<string, LockedCounter>();
  for (const row of rows)
    if (row.counter)
      saved.set(
        counterKeyOf(row.counter.account_id, row.counter.metric, new Date(row.counter.period_start)),
        lockedCounterOf({ ...row.counter, live_reserved: row.counter.reserved, dropped: 0 }),
      );
  // No row per record: the call went the fast way, every record recorded (the function's `p_fast_by_counter`).
  const { settled, recordedItems } = rows.some((row) => row.item !== null)
    ? decidedByRow(planned, rows, mode)
    : recordedByCounter(planned, counterOfRecord, saved);
  const recorded: NewUsageRecord[] = [];
  const lastChange = new Map<string, PlannedEvent>();
  for (const index of recordedItems) {
    const item = planned[index] as PlannedEvent;
    recorded.push({ ...item.event, periodStart: item.period.start });
    lastChange.set(counterOfRecord[index] as string, item);
  }
  const changed: ChangedCounter[] = [];
  for (const [key, counter] of saved) {
    const item = lastChange.get(key);
    if (item) changed.push({ counter, item });
  }
  return { settled, changed, recorded, notifications: 0 };
}

interface Decided {
  settled: Array<Settled<RecordOutcome>>;
  /** The recorded records' places in the call. */
  recordedItems: number[];
}

/** Each record's answer from its own row (the lookup and the decision loop ran); a refusal fails all-or-none. */
function decidedByRow(planned: PlannedEvent[], rows: StatementRow[], mode: RecordMode): Decided {
  const decided: Decided = { settled: [], recordedItems: [] };
  for (const row of rows) {
    if (row.item === null) continue;
    const item = planned[row.item] as PlannedEvent;
    const answer = answerOf(item, row);
    if (!answer.ok && mode === 'all-or-none') throw answer.error;
    decided.settled.push(answer);
    if (row.outcome === 'recorded') decided.recordedItems.push(row.item);
  }
  return decided;
}

/**
 * The answers of a call that went the fast way: every record recorded, and a record's figures are its counter's
 * before the call plus the running sum of the counter's quantities up to it (what the function's previous version
 * computed with a window and sent as a row per record, ADR 0034's amendment). The counter before the call is the
 * saved one less every quantity the call recorded in it: the fast way is taken only for counters that add up.
 */
function recordedByCounter(
  planned: PlannedEvent[],
  counterOfRecord: string[],
  saved: Map<string, LockedCounter>,
): Decided {
  const running = new Map<string, { counter: LockedCounter; used: number; peak: number }>();
  for (const [key, counter] of saved) running.set(key, { counter, used: counter.used, peak: counter.peak });
  const counters = planned.map(({ event }, index) => {
    const figures = running.get(counterOfRecord[index] as string);
    if (!figures) throw new Error("usage_record_group answered without a record's counter");
    figures.used -= event.quantity;
    figures.peak -= event.quantity;
    return figures;
  });
  const settled = planned.map((item, index): Settled<RecordOutcome> => {
    const figures = counters[index] as { counter: LockedCounter; used: number; peak: number };
    figures.used += item.event.quantity;
    figures.peak += item.event.quantity;
    const counter = { used: figures.used, peak: figures.peak };
    const usage = usageFiguresOf(item.allowance, counter, item.period, figures.counter.included);
    return { ok: true, value: { duplicate: false, usage } };
  });
  return { settled, recordedItems: planned.map((_, index) => index) };
}

/** A record's row as its own answer: its outcome with the counter's figures, or its refusal. */
function answerOf(item: PlannedEvent, row: StatementRow): Settled<RecordOutcome> {
  const { event, allowance, allowances, period } = item;
  const used = Number(row.used);
  const reserved = Number(row.reserved);
  const included = row.included === null ? null : Number(row.included);
  switch (row.outcome) {
    case 'recorded':
    case 'duplicate':
      return {
        ok: true,
        value: {
          duplicate: row.outcome === 'duplicate',
          usage: usageFiguresOf(allowance, { used, peak: Number(row.peak) }, period, included),
        },
      };
    case 'conflict':
      return {
        ok: false,
        error: keyReused(event, {
          metric: String(row.earlier_metric),
          quantity: Number(row.earlier_quantity),
        }),
      };
    case 'not_available':
      return { ok: false, error: metricNotAvailable(allowance, used, event.quantity) };
    default:
      return {
        ok: false,
        error: limitExceeded(allowances, allowance, {
          included: included ?? 0,
          used,
          reserved,
          requested: event.quantity,
        }),
      };
  }
}
