import type { CounterCopy } from './usage-copies';
import { counterKeyOf } from './usage-ledger';
import type { UsageFigures } from './usage-reader';
import type { UsageWriting } from './usage-writing';

/** A counter as a commit left it, with the figures its account is shown. */
export interface CommittedCounter {
  counter: CounterCopy;
  figures: UsageFigures;
}

/**
 * Shares what one commit (a batch, or a group of single records or reservation commits) changed: every changed
 * counter's copy goes to Redis in one pipeline (one round trip), and `usageUpdated` is handed to the publisher
 * once per account and metric with the newest figures, whatever the number of records behind them, so a group
 * never becomes a storm of publishes. `recorded` counts the records made, per metric, for monitoring.
 */
export async function shareCommitted(
  writing: UsageWriting,
  committed: readonly CommittedCounter[],
  recorded: ReadonlyMap<string, number>,
): Promise<void> {
  const newestCopies = new Map<string, CommittedCounter>();
  for (const entry of committed) {
    const { accountId, metric, periodStart } = entry.counter;
    const key = counterKeyOf(accountId, metric, periodStart);
    const kept = newestCopies.get(key);
    if (!kept || kept.counter.revision < entry.counter.revision) newestCopies.set(key, entry);
  }
  if (newestCopies.size > 0)
    await writing.copies.write(
      [...newestCopies.values()].map(({ counter }) => counter),
      null,
    );
  for (const entry of newestPerMetric(newestCopies.values()))
    writing.publisher.changed(entry.counter.accountId, entry.figures, entry.counter.revision);
  if (writing.metrics) for (const [metric, count] of recorded) writing.metrics.recorded(metric, count);
}

/** Per account and metric, the newest period's counter (a late record may have changed an older period's). */
function newestPerMetric(entries: Iterable<CommittedCounter>): CommittedCounter[] {
  const newest = new Map<string, CommittedCounter>();
  for (const entry of entries) {
    const key = `${entry.counter.accountId}\u0000${entry.counter.metric}`;
    const kept = newest.get(key);
    if (!kept || kept.counter.periodStart < entry.counter.periodStart) newest.set(key, entry);
  }
  return [...newest.values()];
}
