/**
 * A token bucket: `capacity` tokens, refilled continuously at `refillPerSecond`; each request takes one. A full
 * bucket lets a burst of `capacity` through at once, then the refill rate is the sustained rate.
 */
export interface BucketLimit {
  capacity: number;
  refillPerSecond: number;
}

/** What one take answered: allowed, or how long until a token is back. */
export interface TakeResult {
  allowed: boolean;
  /** Milliseconds until the next token (0 when allowed). */
  retryAfterMs: number;
}

/** A store of buckets by key; `take` is atomic per key. */
export interface TokenBuckets {
  take(key: string, limit: BucketLimit): Promise<TakeResult>;
}

interface BucketState {
  tokens: number;
  at: number;
  /** The bucket's own limit: a sweep judges each bucket by it, not by the limit of whoever triggered it. */
  limit: BucketLimit;
}

/**
 * Buckets in this process's memory: the fallback while Redis is down or not configured. Each instance then
 * counts on its own, so the budget is per instance until Redis is back.
 */
export class InMemoryTokenBuckets implements TokenBuckets {
  private readonly buckets = new Map<string, BucketState>();
  /** Past this many buckets, the ones that have refilled (as good as absent) are dropped. */
  private static readonly SWEEP_AT = 10_000;

  constructor(private readonly now: () => number = Date.now) {}

  async take(key: string, limit: BucketLimit): Promise<TakeResult> {
    return this.takeNow(key, limit);
  }

  takeNow(key: string, limit: BucketLimit): TakeResult {
    const now = this.now();
    const state = this.buckets.get(key) ?? { tokens: limit.capacity, at: now, limit };
    const tokens = refilled(state, now, limit);
    if (this.buckets.size >= InMemoryTokenBuckets.SWEEP_AT && !this.buckets.has(key)) this.sweep(now);
    if (tokens >= 1) {
      this.buckets.set(key, { tokens: tokens - 1, at: now, limit });
      return { allowed: true, retryAfterMs: 0 };
    }
    this.buckets.set(key, { tokens, at: now, limit });
    return { allowed: false, retryAfterMs: Math.ceil(((1 - tokens) * 1000) / limit.refillPerSecond) };
  }

  private sweep(now: number): void {
    for (const [key, state] of this.buckets)
      if (refilled(state, now, state.limit) >= state.limit.capacity) this.buckets.delete(key);
  }
}

function refilled(state: BucketState, now: number, limit: BucketLimit): number {
  const elapsedMs = Math.max(0, now - state.at);
  return Math.min(limit.capacity, state.tokens + (elapsedMs * limit.refillPerSecond) / 1000);
}
