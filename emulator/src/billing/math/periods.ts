/**
 * Billing-period arithmetic. Stripe anchors recurring periods to the `billing_cycle_anchor`:
 * https://docs.stripe.com/billing/subscriptions/billing-cycle — a monthly subscription anchored on
 * the 31st bills on the last day of shorter months and returns to the 31st when it can
 * (Jan 31 → Feb 28/29 → Mar 31). So every boundary is computed from the anchor (anchor + n
 * intervals, clamped to the month's last day), never from the previous boundary. Times of day are
 * kept in UTC.
 */

export type Interval = 'day' | 'week' | 'month' | 'year';

const DAY = 86_400;

function daysInMonth(year: number, monthIndex: number): number {
  return new Date(Date.UTC(year, monthIndex + 1, 0)).getUTCDate();
}

/** `ts` plus `months` calendar months, clamping the day of month to the target month's length. */
export function addMonths(ts: number, months: number): number {
  const d = new Date(ts * 1000);
  const total = d.getUTCFullYear() * 12 + d.getUTCMonth() + months;
  const year = Math.floor(total / 12);
  const month = total - year * 12;
  const day = Math.min(d.getUTCDate(), daysInMonth(year, month));
  return Date.UTC(year, month, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()) / 1000;
}

/** `anchor` advanced by `count` × (`interval_count` `interval`s). */
export function addIntervals(
  anchor: number,
  interval: Interval,
  intervalCount: number,
  count: number,
): number {
  const n = intervalCount * count;
  switch (interval) {
    case 'day':
      return anchor + n * DAY;
    case 'week':
      return anchor + n * 7 * DAY;
    case 'month':
      return addMonths(anchor, n);
    case 'year':
      return addMonths(anchor, n * 12);
  }
}

export interface Period {
  start: number;
  end: number;
}

/**
 * The period containing `at` for a cycle anchored at `anchor` (`at` ≥ anchor is the normal case;
 * an `at` before the anchor gives the first period).
 */
export function periodContaining(
  anchor: number,
  interval: Interval,
  intervalCount: number,
  at: number,
): Period {
  let n = 0;
  // Estimate to avoid looping over years of daily periods, then correct.
  const approx = approxSeconds(interval) * intervalCount;
  if (at > anchor) n = Math.max(0, Math.floor((at - anchor) / approx) - 1);
  while (addIntervals(anchor, interval, intervalCount, n + 1) <= at) n++;
  while (n > 0 && addIntervals(anchor, interval, intervalCount, n) > at) n--;
  return {
    start: addIntervals(anchor, interval, intervalCount, n),
    end: addIntervals(anchor, interval, intervalCount, n + 1),
  };
}

function approxSeconds(interval: Interval): number {
  switch (interval) {
    case 'day':
      return DAY;
    case 'week':
      return 7 * DAY;
    case 'month':
      return 28 * DAY;
    case 'year':
      return 365 * DAY;
  }
}

/**
 * A `billing_cycle_anchor` in the future (before the first full period) gives a first, shorter
 * period [start, anchor): the anchor's cycle goes backwards from it. Returns the first period.
 */
export function firstPeriod(
  start: number,
  anchor: number,
  interval: Interval,
  intervalCount: number,
): Period {
  if (anchor <= start) return periodContaining(anchor, interval, intervalCount, start);
  return { start, end: anchor };
}
