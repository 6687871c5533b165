import { BillingError, ErrorCode } from '../../errors';
import {
  KEY_INDEX,
  KEY_RACE,
  type KeyLookup,
  recordInOneStatement,
  THRESHOLD_TO_TELL,
} from './usage-record-statement';
import {
  KeyRace,
  type PlannedEvent,
  type RecordingResult,
  type RecordMode,
  recordInTransaction,
} from './usage-recording';
import type { UsageWriting } from './usage-writing';

/**
 * Records, first saying the keys are new (ADR 0034: nothing to look up when nothing can be refused), again with
 * the keys looked up when one of them was recorded before (a retry: its duplicate is answered as such), and again
 * once after a key race or a deadlock (both roll everything back). Past a second race a group is split into its
 * records, each recorded on its own, so only the record that races answers CONFLICT.
 */
export async function recordWithRetries(
  writing: UsageWriting,
  planned: PlannedEvent[],
  mode: RecordMode,
  now: Date = writing.clock.now(),
): Promise<RecordingResult> {
  const first = keysSeenLately(writing) ? 'look-up' : 'unseen';
  try {
    return await recordOnce(writing, planned, mode, now, first)
      .catch((error: unknown) => {
        if (!isRetryable(error)) throw error;
        if (first === 'unseen') seenKeys.set(writing, performance.now());
        return recordOnce(writing, planned, mode, now, 'look-up');
      })
      .catch((error: unknown) => {
        if (!isRetryable(error)) throw error;
        return recordOnce(writing, planned, mode, writing.clock.now(), 'look-up');
      });
  } catch (error) {
    if (!isRetryable(error)) throw error;
    if (mode === 'each-own' && planned.length > 1) return recordOneByOne(writing, planned);
    throw new BillingError(
      ErrorCode.CONFLICT,
      'Another record with one of these idempotency keys is being made at the same moment: retry',
    );
  }
}

/**
 * When a call whose keys were said to be new last failed on one recorded before (monotonic ms), per service: for
 * a while after, calls look their keys up first. Clients retry in bursts (after a timeout, an outage), and in a
 * burst most calls would otherwise be written twice, failing first on a retried key (ADR 0034).
 */
const seenKeys = new WeakMap<UsageWriting, number>();
/** How long after such a failure calls look their keys up first. */
export const LOOK_UP_AFTER_SEEN_KEY_MS = 1_000;

function keysSeenLately(writing: UsageWriting): boolean {
  const seenAt = seenKeys.get(writing);
  return seenAt !== undefined && performance.now() - seenAt < LOOK_UP_AFTER_SEEN_KEY_MS;
}

/**
 * One statement (`usage_record_group`, one round trip); a group whose records cross a threshold the account is
 * mailed about goes the transactional way instead, which queues the mail with the records (twice per counter
 * and period, so rarely).
 */
async function recordOnce(
  writing: UsageWriting,
  planned: PlannedEvent[],
  mode: RecordMode,
  now: Date,
  keys: KeyLookup,
): Promise<RecordingResult> {
  try {
    return await recordInOneStatement(writing, planned, mode, now, keys);
  } catch (error) {
    if (codeOf(error) !== THRESHOLD_TO_TELL) throw error;
    return recordInTransaction(writing, planned, mode, now);
  }
}

async function recordOneByOne(writing: UsageWriting, planned: PlannedEvent[]): Promise<RecordingResult> {
  const combined: RecordingResult = { settled: [], changed: [], recorded: [], notifications: 0 };
  for (const item of planned) {
    try {
      const alone = await recordWithRetries(writing, [item], 'each-own');
      combined.settled.push(...alone.settled);
      combined.changed.push(...alone.changed);
      combined.recorded.push(...alone.recorded);
      combined.notifications += alone.notifications;
    } catch (error) {
      combined.settled.push({ ok: false, error });
    }
  }
  return combined;
}

/**
 * A key race (the transactional path's KeyRace; the statement's unique_violation on the key index, or KEY_RACE
 * from its previous version) or PostgreSQL's deadlock_detected (40P01): everything was rolled back, and it may
 * simply be run again.
 */
function isRetryable(error: unknown): boolean {
  const code = codeOf(error);
  const keyTaken = code === '23505' && (error as { constraint?: unknown }).constraint === KEY_INDEX;
  return error instanceof KeyRace || keyTaken || code === KEY_RACE || code === '40P01';
}

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}
