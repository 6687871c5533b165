import {
  addIntervals,
  addMonths,
  aggregateUsage,
  computeProration,
  DEFAULT_RETRY_POLICY,
  firstPeriod,
  graduatedAmount,
  graduatedLines,
  invoiceTotals,
  nextRetryAt,
  periodContaining,
  prorate,
  tieredAmount,
  totalAttempts,
  volumeAmount,
} from '../src/billing/math';

const ts = (iso: string): number => Date.parse(iso) / 1000;

describe('proration by the second (https://docs.stripe.com/billing/subscriptions/prorations)', () => {
  it('credits unused time on the old price and debits the new price for the remaining time', () => {
    // 30-day period, change after exactly 10 days: 20/30 of the period remains.
    const start = ts('2026-04-01T00:00:00Z');
    const end = ts('2026-05-01T00:00:00Z');
    const r = computeProration({
      oldAmount: 1000,
      newAmount: 3000,
      periodStart: start,
      periodEnd: end,
      prorationDate: start + 10 * 86400,
    });
    // by hand: 1000 × 20/30 = 666.67 → 667 credit ; 3000 × 20/30 = 2000 debit
    expect(r.credit).toBe(-667);
    expect(r.debit).toBe(2000);
    expect(r.remainingSeconds).toBe(20 * 86400);
  });

  it('uses seconds, not days', () => {
    // 1 second into a 31-day month: 2 678 399 / 2 678 400 of 999 = 998.99963 → 999
    const start = ts('2026-01-01T00:00:00Z');
    const end = ts('2026-02-01T00:00:00Z');
    expect(prorate(999, end - start - 1, end - start)).toBe(999);
    // half a day left of 31 days on 100000: 100000 × 43200/2678400 = 1612.9 → 1613
    expect(prorate(100000, 43200, end - start)).toBe(1613);
  });

  it('clamps dates outside the period and never returns a negative zero', () => {
    const r = computeProration({
      oldAmount: 0,
      newAmount: 500,
      periodStart: 100,
      periodEnd: 200,
      prorationDate: 50,
    });
    expect(r.debit).toBe(500);
    expect(Object.is(r.credit, 0)).toBe(true);
    expect(
      computeProration({
        oldAmount: 500,
        newAmount: 500,
        periodStart: 100,
        periodEnd: 200,
        prorationDate: 300,
      }).debit,
    ).toBe(0);
  });

  it('rejects non-integer money', () => {
    expect(() => prorate(10.5, 1, 2)).toThrow(/integer cents/);
  });
});

describe('tiers (https://docs.stripe.com/products-prices/pricing-models#tiered-pricing)', () => {
  const tiers = [
    { up_to: 5, unit_amount: 500, flat_amount: null },
    { up_to: 10, unit_amount: 400, flat_amount: 100 },
    { up_to: null, unit_amount: 300, flat_amount: 200 },
  ];
  it('graduated: each tier bills its own units plus its flat fee when reached', () => {
    // 12 units: 5×500 + (5×400 + 100) + (2×300 + 200) = 2500 + 2100 + 800 = 5400
    expect(graduatedAmount(tiers, 12)).toBe(5400);
    expect(graduatedLines(tiers, 12).map((l) => l.quantity)).toEqual([5, 5, 2]);
    // 5 units stay in the first tier, no flat fee from the second
    expect(graduatedAmount(tiers, 5)).toBe(2500);
    expect(graduatedAmount(tiers, 6)).toBe(2500 + 400 + 100);
    expect(graduatedAmount(tiers, 0)).toBe(0);
  });
  it('volume: all units at the tier containing the total, plus its flat fee', () => {
    // 12 units → third tier: 12×300 + 200 = 3800
    expect(volumeAmount(tiers, 12)).toBe(3800);
    expect(volumeAmount(tiers, 10)).toBe(10 * 400 + 100);
    expect(tieredAmount('volume', tiers, 3)).toBe(1500);
  });
  it('rejects an infinite tier that is not last', () => {
    expect(() =>
      graduatedAmount(
        [
          { up_to: null, unit_amount: 1, flat_amount: null },
          { up_to: 5, unit_amount: 1, flat_amount: null },
        ],
        1,
      ),
    ).toThrow();
  });
});

describe('periods (https://docs.stripe.com/billing/subscriptions/billing-cycle)', () => {
  it('clamps to the end of short months and returns to the anchor day', () => {
    const jan31 = ts('2026-01-31T10:00:00Z');
    expect(addMonths(jan31, 1)).toBe(ts('2026-02-28T10:00:00Z'));
    expect(addIntervals(jan31, 'month', 1, 2)).toBe(ts('2026-03-31T10:00:00Z'));
    expect(addIntervals(ts('2028-02-29T00:00:00Z'), 'year', 1, 1)).toBe(ts('2029-02-28T00:00:00Z'));
    expect(addIntervals(jan31, 'week', 2, 1)).toBe(jan31 + 14 * 86400);
    expect(addMonths(ts('2026-11-15T00:00:00Z'), 3)).toBe(ts('2027-02-15T00:00:00Z'));
  });
  it('finds the period containing a moment', () => {
    const anchor = ts('2026-01-31T00:00:00Z');
    expect(periodContaining(anchor, 'month', 1, ts('2026-03-05T00:00:00Z'))).toEqual({
      start: ts('2026-02-28T00:00:00Z'),
      end: ts('2026-03-31T00:00:00Z'),
    });
    expect(periodContaining(anchor, 'day', 1, anchor + 86400 * 400 + 5).start).toBe(anchor + 86400 * 400);
    expect(firstPeriod(100, 5000, 'month', 1)).toEqual({ start: 100, end: 5000 });
  });
});

describe('smart retries (https://docs.stripe.com/billing/revenue-recovery/smart-retries)', () => {
  it('defaults to 8 tries within two weeks', () => {
    expect(totalAttempts(DEFAULT_RETRY_POLICY)).toBe(8);
    let at = 0;
    let attempt = 1;
    let next = nextRetryAt(DEFAULT_RETRY_POLICY, attempt, at);
    while (next !== null) {
      at = next;
      attempt++;
      next = nextRetryAt(DEFAULT_RETRY_POLICY, attempt, at);
    }
    expect(attempt).toBe(8);
    expect(at).toBeLessThan(14 * 86400);
  });
  it('honours a compressed schedule', () => {
    const policy = { delays: [60, 120], finalStatus: 'unpaid' as const };
    expect(nextRetryAt(policy, 1, 1000)).toBe(1060);
    expect(nextRetryAt(policy, 2, 1060)).toBe(1180);
    expect(nextRetryAt(policy, 3, 1180)).toBeNull();
  });
});

describe('usage and totals', () => {
  const events = [
    { timestamp: 10, value: 3 },
    { timestamp: 20, value: 4 },
    { timestamp: 30, value: 5 },
  ];
  it('aggregates in [start, end)', () => {
    expect(aggregateUsage('sum', events, 10, 30)).toBe(7);
    expect(aggregateUsage('count', events, 0, 31)).toBe(3);
    expect(aggregateUsage('last', events, 0, 25)).toBe(4);
    expect(aggregateUsage('last', events, 40, 50)).toBe(0);
  });
  it('credits a negative total to the customer balance', () => {
    expect(invoiceTotals([1000, -1500])).toEqual({
      subtotal: -500,
      total: -500,
      startingBalance: 0,
      endingBalance: -500,
      amountDue: 0,
    });
    expect(invoiceTotals([1000], -300).amountDue).toBe(700);
    expect(() => invoiceTotals([0.5])).toThrow();
  });
});
