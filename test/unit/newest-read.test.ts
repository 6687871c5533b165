import { applyIfNewer, isNoOlderThan, readNoLaterThan } from '../../src/database/newest-read';

/** ADR 0005's rule, written once: a write of what was read at `observedAt` applies only over older reads. */
describe('newest read wins', () => {
  const earlier = new Date('2026-12-01T10:00:00Z');
  const later = new Date('2026-12-01T10:00:01Z');

  it('applies a read over an older one, over an equal one, and over a row never read', () => {
    expect(isNoOlderThan({ stripeUpdatedAt: earlier }, later)).toBe(true);
    expect(isNoOlderThan({ stripeUpdatedAt: later }, later)).toBe(true);
    expect(isNoOlderThan({ stripeUpdatedAt: null }, earlier)).toBe(true);
  });

  it('never applies an older read over a newer one', () => {
    expect(isNoOlderThan({ stripeUpdatedAt: later }, earlier)).toBe(false);
  });

  it('writes and stamps only when the read is no older', () => {
    const row = { name: 'newer', stripeUpdatedAt: later as Date | null };
    expect(applyIfNewer(row, earlier, (fresh) => Object.assign(fresh, { name: 'older' }))).toBe(false);
    expect(row).toEqual({ name: 'newer', stripeUpdatedAt: later });
    const newest = new Date('2026-12-01T10:00:02Z');
    expect(applyIfNewer(row, newest, (fresh) => Object.assign(fresh, { name: 'newest' }))).toBe(true);
    expect(row).toEqual({ name: 'newest', stripeUpdatedAt: newest });
  });

  it('gives statements the same condition', () => {
    expect(readNoLaterThan(earlier)).toEqual({ stripeUpdatedAt: { $lte: earlier } });
  });
});
