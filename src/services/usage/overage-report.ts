/**
 * The arithmetic of overage reporting, kept apart from the database and Stripe so each rule can be read (and
 * tested) on its own. Amounts are whole units of the metric.
 */

/** What of a usage counter decides its overage. */
export interface OverageBasis {
  /** The period's total (counters) or highest level (gauges). */
  peak: number;
  /** Included in the plan; null = unlimited (never any overage). */
  included: number | null;
  overLimit: 'block' | 'bill_overage';
}

/** The overage of a period so far: max(0, peak − included), and 0 unless the rule bills overage. */
export function overageOf(basis: OverageBasis): number {
  if (basis.overLimit !== 'bill_overage' || basis.included === null) return 0;
  return Math.max(0, basis.peak - basis.included);
}

/**
 * The meter event identifier of the report that raises a counter's reported overage to `total`. Reported
 * totals only ever rise, so each (counter, total) is sent once; a resend after a crash carries the same
 * identifier, and Stripe drops it as a duplicate if the first one landed.
 */
export function overageIdentifier(counterId: string, total: number): string {
  return `ovg_${counterId}_${total}`;
}

/**
 * The time a report is stamped with, in Unix seconds: the second before now, kept inside the counter's period
 * (`[periodStart, periodEnd − 1 s]`), so the units land on the invoice of the period they were used in even
 * when the report is sent a little after the period ended (Stripe bills a period's events about an hour
 * after it closes). A second before now, not now: Stripe bills a window's events with `timestamp < end`, and a
 * cancellation made in the same second as the report (cancel now reports first) ends the window at that second.
 */
export function reportTimestamp(periodStart: Date, periodEnd: Date, now: Date): number {
  const start = Math.ceil(periodStart.getTime() / 1000);
  const last = Math.max(start, Math.ceil(periodEnd.getTime() / 1000) - 1);
  return Math.min(last, Math.max(start, Math.floor(now.getTime() / 1000) - 1));
}

/**
 * How long to wait before the next pass: the regular interval, but no later than `closeLeadMs` before the
 * earliest open period's end, so every period gets one more pass shortly before it closes. Never less than
 * `minimumMs`, so a period about to close cannot make the reporter spin.
 */
export function nextPassDelayMs(options: {
  now: Date;
  intervalMs: number;
  closeLeadMs: number;
  minimumMs: number;
  /** The earliest end of a period that is still open more than `closeLeadMs` from now, if any. */
  earliestPeriodEnd: Date | null;
}): number {
  const { now, intervalMs, closeLeadMs, minimumMs, earliestPeriodEnd } = options;
  if (!earliestPeriodEnd) return intervalMs;
  const untilLastPass = earliestPeriodEnd.getTime() - closeLeadMs - now.getTime();
  return Math.max(minimumMs, Math.min(intervalMs, untilLastPass));
}
