/** Milliseconds in a day of UTC (which has no daylight saving: every day is this long). */
export const DAY_MS = 24 * 3600 * 1000;

/** Midnight UTC of the day `at` falls in, in epoch milliseconds: where retention counts its days from. */
export function startOfUtcDay(at: Date): number {
  return Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
}
