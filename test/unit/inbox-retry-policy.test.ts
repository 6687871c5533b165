import {
  isDead,
  MAX_AGE_MS,
  MAX_ATTEMPTS,
  RETRY_DELAYS_SECONDS,
  retryDelaySeconds,
} from '../../src/webhooks/inbox/inbox-retry-policy';

/** The webhook inbox's retry policy: back-off by attempt count, dead after too many attempts or days. */
describe('the inbox retry policy', () => {
  const HOUR = 3600;

  it('waits longer after each failure, up to twelve hours', () => {
    const waits = Array.from({ length: 12 }, (_, index) => retryDelaySeconds(index + 1));
    expect(waits.slice(0, 6)).toEqual([60, 240, 960, 3840, 15_360, 12 * HOUR]);
    expect(waits.slice(6)).toEqual(Array(6).fill(12 * HOUR));
    for (let index = 1; index < waits.length; index++)
      expect(waits[index]).toBeGreaterThanOrEqual(waits[index - 1] as number);
    // Never attempted yet (a row left behind by a crash) counts as the first.
    expect(retryDelaySeconds(0)).toBe(60);
  });

  it(`gives up after ${MAX_ATTEMPTS} attempts, or three days after the event arrived`, () => {
    const now = new Date('2026-12-05T12:00:00Z');
    const fresh = new Date(now.getTime() - 60_000);
    expect(isDead(MAX_ATTEMPTS - 1, fresh, now)).toBe(false);
    expect(isDead(MAX_ATTEMPTS, fresh, now)).toBe(true);
    expect(isDead(1, new Date(now.getTime() - MAX_AGE_MS + 1000), now)).toBe(false);
    expect(isDead(1, new Date(now.getTime() - MAX_AGE_MS), now)).toBe(true);
  });

  it('spends the attempts within about the three days Stripe retries a delivery', () => {
    // The waits between the first and the last attempt.
    const total = Array.from({ length: MAX_ATTEMPTS - 1 }, (_, index) => retryDelaySeconds(index + 1)).reduce(
      (sum, wait) => sum + wait,
      0,
    );
    expect(total).toBeGreaterThan(2 * 24 * HOUR);
    expect(total * 1000).toBeLessThan(MAX_AGE_MS);
    expect(RETRY_DELAYS_SECONDS.length).toBeLessThan(MAX_ATTEMPTS);
  });
});
