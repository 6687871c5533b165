import type { Settled } from '../../database/group-committer';
import { recordWithRetries } from './usage-record-retries';
import type { PlannedEvent, RecordingResult, RecordOutcome } from './usage-recording';
import type { UsageWriting } from './usage-writing';

/**
 * The most batches one group carries (ADR 0034). Each batch may hold up to 1,000 records (`MAX_BATCH`); a group
 * of batches as they arrive (a gateway's 100) stays near a thousand records, one statement and its locks.
 */
export const MAX_BATCH_GROUP = 8;

/** What a group of batches wrote: each batch's answer, and the results to share (copies, publishes) once. */
export interface RecordedBatches {
  settled: Array<Settled<RecordOutcome[]>>;
  results: RecordingResult[];
}

/**
 * Records concurrent batches (`recordUsageBatch`, `POST /usage/batch`) together, each still all or none: one
 * `usage_record_group` call, one transaction and one fsync for the group, as if they had run one after another
 * in arrival order (a key in two of them is the later one's duplicate). When the group cannot be written whole
 * (a batch refused: over a hard limit, a key reused for another use, a bad metric; or the statement failed), each
 * batch runs again alone, so one batch's refusal fails no other and each gets the answer it would have had alone.
 */
export async function recordBatches(
  writing: UsageWriting,
  batches: PlannedEvent[][],
): Promise<RecordedBatches> {
  if (batches.length > 1) {
    try {
      const together = await recordWithRetries(writing, batches.flat(), 'all-or-none');
      return { settled: answersByBatch(together, batches), results: [together] };
    } catch {
      // One of them is refused, or the group failed as a whole: each alone says which.
    }
  }
  const recorded: RecordedBatches = { settled: [], results: [] };
  for (const batch of batches) {
    try {
      const result = await recordWithRetries(writing, batch, 'all-or-none');
      recorded.results.push(result);
      recorded.settled.push({ ok: true, value: outcomesOf(result) });
    } catch (error) {
      recorded.settled.push({ ok: false, error });
    }
  }
  return recorded;
}

/** The group's answers (in arrival order, every one accepted) cut back into its batches. */
function answersByBatch(
  together: RecordingResult,
  batches: PlannedEvent[][],
): Array<Settled<RecordOutcome[]>> {
  const outcomes = outcomesOf(together);
  let start = 0;
  return batches.map((batch) => {
    const value = outcomes.slice(start, start + batch.length);
    start += batch.length;
    return { ok: true, value };
  });
}

function outcomesOf(result: RecordingResult): RecordOutcome[] {
  return result.settled.map((settled) => (settled as { value: RecordOutcome }).value);
}
