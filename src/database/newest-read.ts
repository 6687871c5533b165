/**
 * "Newest read wins" (ADR 0005), written once. Every row that copies Stripe's state keeps the time we read it
 * (`stripe_updated_at`); a write of what was read at `observedAt` applies only over state read no later than
 * that, so a slow handler (or a resync, or a mutation's answer) that read earlier never overwrites one that
 * read later, whatever order the two commit in. A write that applies stamps the row with its own read time.
 */

/** A row holding a copy of Stripe's state, stamped with when it was read (null: never read from Stripe). */
export interface StampedRow {
  stripeUpdatedAt: Date | null;
}

/** Whether state read at `observedAt` may be written over what the row holds. */
export function isNoOlderThan(row: StampedRow, observedAt: Date): boolean {
  return !(row.stripeUpdatedAt && row.stripeUpdatedAt > observedAt);
}

/**
 * Runs `write` on a row (loaded under a lock) and stamps it, only if what was read at `observedAt` is no older
 * than what it holds; answers whether it did. The caller flushes.
 */
export function applyIfNewer<Row extends StampedRow>(
  row: Row,
  observedAt: Date,
  write: (row: Row) => void,
): boolean {
  if (!isNoOlderThan(row, observedAt)) return false;
  write(row);
  row.stripeUpdatedAt = observedAt;
  return true;
}

/**
 * The condition for a statement that writes what was read at `observedAt` (an upsert's `merge … where`, an
 * update, a delete): only rows read no later than that.
 */
export function readNoLaterThan(observedAt: Date): { stripeUpdatedAt: { $lte: Date } } {
  return { stripeUpdatedAt: { $lte: observedAt } };
}
