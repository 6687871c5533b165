/** A usage period: usage counts from `start` (inclusive) to `end` (exclusive). */
export interface UsagePeriod {
  start: Date;
  end: Date;
}

/** What a usage period is derived from: the account's live subscription, if any. */
export interface BillingPeriodSource {
  currentPeriodStart: Date | null;
  currentPeriodEnd: Date | null;
}

/** A billing period longer than this (a yearly plan) is split into monthly usage periods. */
const LONGEST_MONTH_MS = 31 * 24 * 3600 * 1000;

/**
 * The usage period containing `at`. Allowances are monthly:
 * - with a monthly subscription (or a trial), it is the subscription's billing period, so usage resets when
 *   Stripe bills;
 * - with a yearly one, the year is cut into monthly slices from its start, so a yearly customer gets the same
 *   monthly allowance as a monthly one rather than a year's allowance to burn in a week;
 * - without one (the free plan), the calendar month in UTC.
 * Past the stored period's end (a renewal whose webhook has not arrived yet) the next periods are predicted by
 * stepping a month at a time, as Stripe will.
 */
export function usagePeriodAt(source: BillingPeriodSource | null, at: Date): UsagePeriod {
  const start = source?.currentPeriodStart;
  const end = source?.currentPeriodEnd;
  if (!start || !end) return calendarMonthAt(at);
  if (at >= start && at < end && end.getTime() - start.getTime() <= LONGEST_MONTH_MS) return { start, end };
  // Anchor monthly slices at the period's start while inside it; at its end once past it.
  const anchor = at >= end ? end : start;
  return monthlySliceAt(anchor, at);
}

function calendarMonthAt(at: Date): UsagePeriod {
  return {
    start: new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1)),
    end: new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1)),
  };
}

/** The slice `[anchor + n months, anchor + n+1 months)` containing `at` (n may be negative). */
function monthlySliceAt(anchor: Date, at: Date): UsagePeriod {
  let n = (at.getUTCFullYear() - anchor.getUTCFullYear()) * 12 + (at.getUTCMonth() - anchor.getUTCMonth());
  while (addMonths(anchor, n) > at) n -= 1;
  while (addMonths(anchor, n + 1) <= at) n += 1;
  return { start: addMonths(anchor, n), end: addMonths(anchor, n + 1) };
}

/**
 * `months` after `anchor`, keeping the anchor's day and time of day; a day the month lacks becomes its last
 * day (31 January + 1 month = 28 or 29 February), as Stripe's billing cycle anchors do.
 */
export function addMonths(anchor: Date, months: number): Date {
  const year = anchor.getUTCFullYear();
  const month = anchor.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(
    Date.UTC(
      year,
      month,
      Math.min(anchor.getUTCDate(), lastDay),
      anchor.getUTCHours(),
      anchor.getUTCMinutes(),
      anchor.getUTCSeconds(),
      anchor.getUTCMilliseconds(),
    ),
  );
}
