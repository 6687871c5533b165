import type { Settled } from '../../database/group-committer';
import {
  counterKeyOf,
  type LockedCounter,
  lockedCounterOf,
  type NewUsageRecord,
  recordKeyOf,
  wantedCountersOf,
} from './usage-ledger';
import { limitExceeded, metricNotAvailable } from './usage-limits';
import { usageFiguresOf } from './usage-reader';
import {
  type ChangedCounter,
  counterKeysOf,
  type PlannedEvent,
  keyReused,
  type RecordingResult,
  type RecordMode,
  type RecordOutcome,
} from './usage-recording';
import { runStatement } from './usage-statement';
import type { UsageWriting } from './usage-writing';

/**
 * `usage_record_group` (migration `Migration20261206051000_usage_record_statement`) raises this when a counter
 * crosses a threshold the account is mailed about: nothing was written, and the group takes the transactional
 * path, which queues the mail in the same transaction as the records.
 */
export const THRESHOLD_TO_TELL = 'UB001';
/** …and this when another transaction recorded one of the keys since the lookup: rolled back, run it again. */
export const KEY_RACE = 'UB002';

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
 * Records a group of single records (`each-own`) or a batch (`all-or-none`) in one round trip: one call of
 * `usage_record_group`, its own implicit transaction, no BEGIN/COMMIT around it. The function decides each record
 * as `decide()` would (ADR 0019) and answers it with its own row; this turns the rows into the same result the
 * transactional path gives. Throws the function's errors (a threshold to tell, a key race, a deadlock) as they are.
 */
export async function recordInOneStatement(
  writing: UsageWriting,
  planned: PlannedEvent[],
  mode: RecordMode,
  now: Date,
): Promise<RecordingResult> {
  const counters = wantedCountersOf(counterKeysOf(planned));
  const slots = new Map(
    counters.map((row, index) => [
      counterKeyOf(row.account_id, row.metric, new Date(row.period_start)),
      index + 1,
    ]),
  );
  const rows = await runStatement<StatementRow>(
    writing.orm,
    'select * from usage_record_group(?::jsonb, ?::jsonb, ?, ?)',
    [
      JSON.stringify(counters.map((counter, index) => ({ slot: index + 1, ...counter }))),
      JSON.stringify(recordsOf(planned, slots)),
      now,
      mode === 'all-or-none',
    ],
  );
  return resultOf(planned, rows, mode);
}

/** The records as the function takes them: each with its counter's slot and the item of its key's previous use. */
function recordsOf(planned: PlannedEvent[], slots: Map<string, number>) {
  const lastOfKey = new Map<string, number>();
  return planned.map(({ event, allowance, period, late }, item) => {
    const recordKey = recordKeyOf(event.accountId, event.idempotencyKey);
    const prev = lastOfKey.get(recordKey) ?? null;
    lastOfKey.set(recordKey, item);
    return {
      item,
      slot: slots.get(counterKeyOf(event.accountId, event.metric, period.start)),
      prev,
      id: crypto.randomUUID(),
      account_id: event.accountId,
      metric: event.metric,
      quantity: event.quantity,
      idempotency_key: event.idempotencyKey,
      occurred_at: event.occurredAt.toISOString(),
      period_start: period.start.toISOString(),
      kind: allowance.kind,
      enabled: allowance.enabled,
      over_limit: allowance.overLimit,
      late,
    };
  });
}

function resultOf(planned: PlannedEvent[], rows: StatementRow[], mode: RecordMode): RecordingResult {
  const saved = new Map<string, LockedCounter>();
  for (const row of rows)
    if (row.counter)
      saved.set(
        row.counter.id,
        lockedCounterOf({ ...row.counter, live_reserved: row.counter.reserved, dropped: 0 }),
      );
  const settled: Array<Settled<RecordOutcome>> = [];
  const recorded: NewUsageRecord[] = [];
  const lastChange = new Map<string, PlannedEvent>();
  for (const row of rows) {
    if (row.item === null) continue;
    const item = planned[row.item] as PlannedEvent;
    const answer = answerOf(item, row);
    if (!answer.ok && mode === 'all-or-none') throw answer.error;
    settled.push(answer);
    if (row.outcome !== 'recorded') continue;
    recorded.push({ ...item.event, periodStart: item.period.start });
    lastChange.set(counterKeyOf(item.event.accountId, item.event.metric, item.period.start), item);
  }
  const changed: ChangedCounter[] = [];
  for (const counter of saved.values()) {
    const item = lastChange.get(counterKeyOf(counter.accountId, counter.metric, counter.periodStart));
    if (item) changed.push({ counter, item });
  }
  return { settled, changed, recorded, notifications: 0 };
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
