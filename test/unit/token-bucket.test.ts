import { InMemoryTokenBuckets } from '../../src/services/rate-limit/token-bucket';

/** The in-memory buckets, the fallback of the rate limits: a burst of `capacity`, then the refill rate. */
describe('InMemoryTokenBuckets', () => {
  it('lets a burst of the capacity through, then one token per refill interval', async () => {
    let now = 1_000_000;
    const buckets = new InMemoryTokenBuckets(() => now);
    const limit = { capacity: 3, refillPerSecond: 3 / 60 }; // 3 a minute: a token every 20 s
    for (let i = 0; i < 3; i++)
      expect(await buckets.take('a', limit)).toEqual({ allowed: true, retryAfterMs: 0 });
    expect(await buckets.take('a', limit)).toEqual({ allowed: false, retryAfterMs: 20_000 });
    expect(await buckets.take('b', limit)).toEqual({ allowed: true, retryAfterMs: 0 });

    now += 15_000;
    expect(await buckets.take('a', limit)).toEqual({ allowed: false, retryAfterMs: 5_000 });
    now += 5_000;
    expect((await buckets.take('a', limit)).allowed).toBe(true);
    expect((await buckets.take('a', limit)).allowed).toBe(false);

    now += 10 * 60_000; // a long pause refills to the capacity, not beyond
    for (let i = 0; i < 3; i++) expect((await buckets.take('a', limit)).allowed).toBe(true);
    expect((await buckets.take('a', limit)).allowed).toBe(false);
  });
});
