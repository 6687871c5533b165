/**
 * Retry schedule for failed subscription payments. Stripe's Smart Retries default to 8 tries within
 * 2 weeks (https://docs.stripe.com/billing/revenue-recovery/smart-retries); the exact moments are
 * chosen by a model, so the emulator uses a fixed, configurable list of delays between tries.
 */

const DAY = 86_400;

/** Delays (seconds) after each failed try before the next: tries on days 0,1,3,5,7,9,11,13 = 8. */
const DEFAULT_RETRY_DELAYS: readonly number[] = [1, 2, 2, 2, 2, 2, 2].map((d) => d * DAY);

/** What happens to the subscription after the last try fails (Stripe's "manage failed payments"). */
export type FinalRetryStatus = 'canceled' | 'unpaid' | 'past_due';

export interface RetryPolicy {
  delays: readonly number[];
  finalStatus: FinalRetryStatus;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { delays: DEFAULT_RETRY_DELAYS, finalStatus: 'canceled' };

/**
 * When the next try happens after try number `attemptCount` (1-based, already made) failed at
 * `failedAt`, or null when retries are exhausted.
 */
export function nextRetryAt(policy: RetryPolicy, attemptCount: number, failedAt: number): number | null {
  const delay = policy.delays[attemptCount - 1];
  return delay === undefined ? null : failedAt + delay;
}

/** Total tries (first one included) a policy makes. */
export function totalAttempts(policy: RetryPolicy): number {
  return policy.delays.length + 1;
}

export function validateRetryDelays(value: unknown): number[] | null {
  if (!Array.isArray(value)) return null;
  const out: number[] = [];
  for (const v of value) {
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) return null;
    out.push(n);
  }
  return out;
}
