import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingError, ErrorCode } from '../../errors';
import type { AccountAllowances, MetricAllowance } from './account-allowances';
import type { Settled } from '../../database/group-committer';
import {
  type CounterKey,
  counterKeyOf,
  type LockedCounter,
  lockCountersAndFindRecorded,
  type NewUsageRecord,
  type RecordedUse,
  recordKeyOf,
  saveRecordsAndCounters,
} from './usage-ledger';
import { limitExceeded, metricNotAvailable } from './usage-limits';
import type { UsagePeriod } from './usage-period';
import { type UsageFigures, usageFiguresOf } from './usage-reader';
import { emailsOf, queueThresholdMail, thresholdToTell } from './usage-thresholds';
import type { ValidUsageEvent } from './usage-validation';
import type { UsageWriting } from './usage-writing';

export interface RecordOutcome {
  /** The idempotency key was already recorded: nothing was added. */
  duplicate: boolean;
  /** The metric's usage right after this record. */
  usage: UsageFigures;
}

/** A use checked and placed in its period, ready for the transaction. */
export interface PlannedEvent {
  event: ValidUsageEvent;
  allowance: MetricAllowance;
  allowances: AccountAllowances;
  period: UsagePeriod;
  /** Dated in a period before the current one: that period's stored rule applies, not today's. */
  late: boolean;
}

/**
 * `all-or-none`: one refused record fails the whole call and nothing is written (`recordUsageBatch`).
 * `each-own`: each record is answered on its own, a refused one writes nothing of itself and fails no other
 * (a group of single `recordUsage` calls from different callers).
 */
export type RecordMode = 'all-or-none' | 'each-own';

export interface ChangedCounter {
  counter: LockedCounter;
  /** The last record that changed it: its allowance and period. */
  item: PlannedEvent;
}

export interface RecordingResult {
  /** One answer per planned event, in order. */
  settled: Array<Settled<RecordOutcome>>;
  changed: ChangedCounter[];
  recorded: NewUsageRecord[];
  notifications: number;
}

/** Another transaction recorded one of our keys first; the call is run again and sees it as a duplicate. */
export class KeyRace extends Error {}

/**
 * The transactional path (`usage_record_group` leaves it the calls that cross a threshold, whose mail is queued
 * here with the records): one transaction of two statements (more when a threshold mail is queued): lock
 * the counters and find the keys already recorded, decide each record in order against the locked figures,
 * insert the new records and save the counters.
 */
export function recordInTransaction(
  writing: UsageWriting,
  planned: PlannedEvent[],
  mode: RecordMode,
  now: Date,
): Promise<RecordingResult> {
  return writing.orm.em.fork().transactional(async (em) => {
    const { counters, recorded: seen } = await lockCountersAndFindRecorded(
      em,
      counterKeysOf(planned),
      planned.map(({ event }) => event),
      now,
    );
    const settled: Array<Settled<RecordOutcome>> = [];
    const records: NewUsageRecord[] = [];
    const changed = new Map<string, ChangedCounter>();
    for (const item of planned) {
      try {
        settled.push({ ok: true, value: decide(item, counters, seen, records, changed) });
      } catch (error) {
        if (mode === 'all-or-none' || !(error instanceof BillingError)) throw error;
        settled.push({ ok: false, error });
      }
    }
    const notifications = await queueThresholdMails(writing, em, [...changed.values()]);
    // Counters whose expired holds the lock dropped are saved too, though nothing was recorded in them.
    const counterRows = [
      ...[...changed.values()].map(({ counter }) => counter),
      ...[...counters.values()].filter((counter) => counter.droppedHolds && !changed.has(counter.id)),
    ];
    const saved = await saveRecordsAndCounters(em, records, counterRows, now);
    if (saved.inserted !== records.length) throw new KeyRace();
    for (const counter of counterRows) counter.revision = saved.revisions.get(counter.id) ?? counter.revision;
    return { settled, changed: [...changed.values()], recorded: records, notifications };
  });
}

/** One record against its locked counter: a duplicate, a use applied, or an error that changed nothing. */
function decide(
  item: PlannedEvent,
  counters: Map<string, LockedCounter>,
  seen: Map<string, RecordedUse>,
  records: NewUsageRecord[],
  changed: Map<string, ChangedCounter>,
): RecordOutcome {
  const { event, allowance, period } = item;
  const counter = counters.get(counterKeyOf(event.accountId, event.metric, period.start)) as LockedCounter;
  const recordKey = recordKeyOf(event.accountId, event.idempotencyKey);
  const earlier = seen.get(recordKey);
  // A retry is the same use; a key reused for another use is the caller's bug, and silently calling it a
  // duplicate would drop that use.
  if (earlier && (earlier.metric !== event.metric || earlier.quantity !== event.quantity))
    throw keyReused(event, earlier);
  const duplicate = earlier !== undefined;
  if (!duplicate) {
    apply(counter, item);
    // Only once applied: a record refused for a limit uses nothing up, and its key may be recorded once it fits.
    seen.set(recordKey, { metric: event.metric, quantity: event.quantity });
    changed.set(counter.id, { counter, item });
    records.push({ ...event, periodStart: period.start });
  }
  return { duplicate, usage: usageFiguresOf(allowance, counter, period, counter.included) };
}

/** Tells the account, inside the transaction, when a counter crosses 80% or 100% of its included amount. */
async function queueThresholdMails(
  writing: UsageWriting,
  em: EntityManager,
  changed: ChangedCounter[],
): Promise<number> {
  let queued = 0;
  let emails: Map<string, string | null> | null = null;
  for (const { counter, item } of changed) {
    const threshold = thresholdToTell(counter);
    if (threshold === null || counter.included === null) continue;
    counter.thresholdNotified = threshold;
    emails ??= await emailsOf(em, [...new Set(changed.map((entry) => entry.counter.accountId))]);
    await queueThresholdMail(em, writing.notifier, {
      counter: { ...counter, included: counter.included },
      threshold,
      allowance: item.allowance,
      allowances: item.allowances,
      recipient: emails.get(counter.accountId) ?? null,
    });
    queued += 1;
  }
  return queued;
}

/**
 * Each record's counter (`counterKeyOf`), the key made once for a run of records of one counter: a batch is one
 * account's, mostly of one metric, and a key made per record was a part of a batch's CPU (ADR 0034's amendment).
 */
export function counterKeysByRecord(planned: PlannedEvent[]): string[] {
  const keys: string[] = [];
  let previous: PlannedEvent | undefined;
  let key = '';
  for (const item of planned) {
    const { event, period } = item;
    if (
      previous === undefined ||
      event.accountId !== previous.event.accountId ||
      event.metric !== previous.event.metric ||
      period.start.getTime() !== previous.period.start.getTime()
    )
      key = counterKeyOf(event.accountId, event.metric, period.start);
    keys.push(key);
    previous = item;
  }
  return keys;
}

export function counterKeysOf(
  planned: PlannedEvent[],
  keysByRecord: string[] = counterKeysByRecord(planned),
): CounterKey[] {
  // The last record of each counter describes it (its key's first place kept: the Map's order), made once.
  const lastOf = new Map<string, PlannedEvent>();
  planned.forEach((item, index) => {
    lastOf.set(keysByRecord[index] as string, item);
  });
  return [...lastOf.values()].map(({ event, allowance, period, late }) => ({
    accountId: event.accountId,
    metric: event.metric,
    periodStart: period.start,
    periodEnd: period.end,
    kind: allowance.kind,
    included: allowance.included,
    // A past period keeps the rule it had (a trial's use past its allowance is never made billable later).
    overLimit: late ? 'block' : allowance.overLimit,
  }));
}

/**
 * Applies one use to its locked counter, or throws USAGE_LIMIT_EXCEEDED having changed nothing. A counter adds
 * up; a gauge takes the level if it is the latest measured, and its peak is the highest level seen, whatever
 * order levels arrive in.
 */
function apply(counter: LockedCounter, { event, allowance, allowances, late }: PlannedEvent): void {
  const next =
    allowance.kind === 'counter'
      ? { used: counter.used + event.quantity, peak: counter.peak + event.quantity, levelAt: counter.levelAt }
      : {
          used: counter.levelAt && event.occurredAt < counter.levelAt ? counter.used : event.quantity,
          peak: Math.max(counter.peak, event.quantity),
          levelAt: counter.levelAt && event.occurredAt < counter.levelAt ? counter.levelAt : event.occurredAt,
        };
  // The period's allowance, as the locked row has it: what the period's fees include (weighed across plan
  // changes), which may differ from the plan's allowance for a whole period.
  const { included } = counter;
  // A metric switched off (an override) takes no use at all, whatever its rule: billing it as overage would
  // charge for what the account was told it may not do.
  if (
    !allowance.enabled &&
    event.quantity > 0 &&
    (allowance.kind === 'counter' || event.quantity > counter.used)
  ) {
    throw metricNotAvailable(allowance, counter.used, event.quantity);
  }
  // A counter may not pass the limit, counting what reservations hold; a gauge may not rise past it (lowering a
  // level already over it, after a downgrade, is always allowed: that is the customer getting back under it).
  const overLimit =
    allowance.kind === 'counter'
      ? event.quantity > 0 && next.used + counter.reserved > (included ?? Number.POSITIVE_INFINITY)
      : event.quantity > (included ?? Number.POSITIVE_INFINITY) && event.quantity > counter.used;
  const rule = late ? counter.overLimit : allowance.overLimit;
  if (included !== null && rule === 'block' && overLimit) {
    throw limitExceeded(allowances, allowance, {
      included,
      used: counter.used,
      reserved: counter.reserved,
      requested: event.quantity,
    });
  }
  counter.used = next.used;
  counter.peak = next.peak;
  counter.levelAt = next.levelAt;
}

/** CONFLICT for an idempotency key already used for another use: the caller's bug, never a silent duplicate. */
export function keyReused(event: ValidUsageEvent, earlier: RecordedUse): BillingError {
  return new BillingError(
    ErrorCode.CONFLICT,
    `idempotencyKey "${event.idempotencyKey.slice(0, 64)}" was already used for another record (${earlier.quantity} ${earlier.metric})`,
    { field: 'idempotencyKey' },
  );
}
