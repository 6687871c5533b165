/**
 * The arithmetic of overage reporting, kept apart from the database and Stripe so each rule can be read (and
 * tested) on its own. Amounts are whole units of the metric; times are whole seconds where Stripe sees them.
 */

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

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
 * identifier, and Stripe refuses it as a duplicate if the first one landed.
 */
export function overageIdentifier(counterId: string, total: number): string {
  return `ovg_${counterId}_${total}`;
}

/** A span of time `[start, end)`: a counter's usage period, or a subscription's billing period in Stripe. */
export interface Period {
  start: Date;
  end: Date;
}

/** When a report may be stamped in the past. */
export interface StampRules {
  /**
   * How long after a Stripe billing period ends usage stamped inside it is still billed on that period's
   * invoice. Stripe keeps a renewal invoice a draft for its finalization grace period, one hour by default, and
   * bills usage reported for the closed period meanwhile
   * (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period); we stop short of it.
   */
  lateUsageWindowMs: number;
  /**
   * How far back a stamp may lie. Stripe refuses a meter event whose timestamp is more than 35 calendar days old
   * (https://docs.stripe.com/api/billing/meter-event/create); we keep a day's margin.
   */
  oldestStampMs: number;
}

/** The draft hour less a quarter of an hour; 35 days less one. */
export const STAMP_RULES: StampRules = {
  lateUsageWindowMs: HOUR_MS - 15 * MINUTE_MS,
  oldestStampMs: 34 * DAY_MS,
};

/**
 * How long after its usage period ended a counter's overage is still reported when no Stripe billing period
 * that is still open holds it: as far back as Stripe accepts usage at all (35 days). Nothing younger is ever
 * dropped; a yearly subscription's monthly slices stay due as long as their Stripe year is open.
 */
export const REPORT_HORIZON_MS = 35 * DAY_MS;

/**
 * The end of the Stripe billing period that `at` falls in, as far as our subscription rows tell, and never later
 * than the truth, so a report is only stamped in the past when its invoice surely still takes it:
 * - a subscription period that holds `at` (the earliest end, if several rows do);
 * - else, for a time inside the counter's usage period, the usage period's end (usage periods are a billing
 *   period or a monthly slice of one, never across two), but no later than the start of a subscription period
 *   that began after `at` (an interval change cut the old billing period short);
 * - else the next second.
 */
export function stripePeriodEndAt(at: Date, usagePeriod: Period, billingPeriods: readonly Period[]): Date {
  const holding = billingPeriods.filter((period) => period.start <= at && at < period.end);
  if (holding.length > 0) return new Date(Math.min(...holding.map((period) => period.end.getTime())));
  let end =
    at >= usagePeriod.start && at < usagePeriod.end ? usagePeriod.end : new Date(at.getTime() + SECOND_MS);
  for (const period of billingPeriods) {
    if (period.start > at && period.start < end) end = period.start;
  }
  return end;
}

/**
 * Whether a report stamped `stamp` (Unix seconds) is billed on the invoice of the Stripe billing period the
 * stamp lies in, if sent `now`: Stripe still accepts the timestamp, and that period has not ended or ended less
 * than the late-usage window ago.
 */
export function isStampStillBillable(
  stamp: number,
  usagePeriod: Period,
  billingPeriods: readonly Period[],
  now: Date,
  rules: StampRules = STAMP_RULES,
): boolean {
  const at = new Date(stamp * 1000);
  if (at.getTime() < now.getTime() - rules.oldestStampMs) return false;
  const periodEnd = stripePeriodEndAt(at, usagePeriod, billingPeriods);
  return now.getTime() < periodEnd.getTime() + rules.lateUsageWindowMs;
}

/**
 * The time a new report is stamped with, in Unix seconds. Now, kept inside the counter's usage period, so the
 * units land on the invoice of the billing period they were used in, even when sent after the usage period
 * ended (its last second then), as long as that invoice still takes them. Once it does not (the Stripe
 * period closed more than the late-usage window ago), or when the usage period's last second lies further back
 * than Stripe accepts: now. Stamped now, the units are billed on the invoice of the Stripe period running now:
 * the same one for an older slice of a yearly subscription, the next one otherwise (one period late at worst).
 *
 * "Now" is the second before now: Stripe bills a window's events with `timestamp < end`, and a cancellation
 * made in the same second as the report (cancel now reports first, then cancels) ends the window at that second.
 */
export function reportTimestamp(
  usagePeriod: Period,
  billingPeriods: readonly Period[],
  now: Date,
  rules: StampRules = STAMP_RULES,
): number {
  const nowSeconds = Math.floor(now.getTime() / 1000) - 1;
  const start = Math.ceil(usagePeriod.start.getTime() / 1000);
  const last = Math.max(start, Math.ceil(usagePeriod.end.getTime() / 1000) - 1);
  const inside = Math.min(last, Math.max(start, nowSeconds));
  return isStampStillBillable(inside, usagePeriod, billingPeriods, now, rules) ? inside : nowSeconds;
}

/**
 * The stamp a pending report is sent with: the one it was first sent with (so the resend is the same request,
 * with the same idempotency key) while that stamp still bills; else a new one, chosen as for a new report. A new
 * stamp makes a new idempotency key, but the identifier stays: if the first send landed, Stripe still refuses
 * the resend as a duplicate (it keeps identifiers at least 24 hours).
 */
export function resendTimestamp(
  firstStamp: number | null,
  usagePeriod: Period,
  billingPeriods: readonly Period[],
  now: Date,
  rules: StampRules = STAMP_RULES,
): number {
  if (firstStamp !== null && isStampStillBillable(firstStamp, usagePeriod, billingPeriods, now, rules))
    return firstStamp;
  return reportTimestamp(usagePeriod, billingPeriods, now, rules);
}

/** How soon failed reports are tried again. */
export interface RetryRules {
  /** The wait after the first failure; it doubles with each further one. */
  firstDelayMs: number;
  /** The longest wait. */
  maxDelayMs: number;
}

export const RETRY_RULES: RetryRules = { firstDelayMs: MINUTE_MS, maxDelayMs: 30 * MINUTE_MS };

/** The wait before the next try of a report that has failed `failures` times (1 or more). */
export function retryDelayMs(failures: number, rules: RetryRules = RETRY_RULES): number {
  const doublings = Math.min(30, Math.max(0, failures - 1));
  return Math.min(rules.maxDelayMs, rules.firstDelayMs * 2 ** doublings);
}

/**
 * When a pending report counts as stuck (`billing_overage_reports{state="stuck"}`, the BillingOverageReportsStuck
 * alert): pending for an hour (a healthy report is pending for the length of one Stripe call), or failed five
 * times (about half an hour of back-off).
 */
export const STUCK_REPORT = { pendingForMs: HOUR_MS, failures: 5 } as const;

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
