import { newId, randomBase62 } from '../src/core/ids';

describe('ids drawn from the pooled random bytes', () => {
  it('are base62 of the asked length, distinct across many pool refills, and use the whole alphabet evenly', () => {
    const ids = Array.from({ length: 5000 }, () => newId('req'));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^req_[0-9A-Za-z]{24}$/);
    const counts = new Map<string, number>();
    for (const character of randomBase62(62_000)) counts.set(character, (counts.get(character) ?? 0) + 1);
    expect(counts.size).toBe(62);
    // 1,000 expected of each (standard deviation about 31): a lost or stuck character would show.
    for (const count of counts.values()) expect(Math.abs(count - 1000)).toBeLessThan(160);
  });
});
