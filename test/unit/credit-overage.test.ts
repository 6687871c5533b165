import fc from 'fast-check';
import { decimalTimes } from '../../emulator/src/billing/pricing';
import { overageCents, overageRoom, spentCents } from '../../src/services/credits/credit-overage';

/**
 * The money of credits beyond the balance, exactly: what n credits cost as Stripe rounds a line (multiplied, then
 * to the nearest cent, half up: "Decimal amounts for pricing"), the emulator billing the same, and the room under
 * a limit being the most that fits, never one more.
 */
const decimal = fc
  .tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 4 }))
  .map(([whole, fraction, digits]) =>
    digits === 0 ? String(whole) : `${whole}.${String(fraction).padStart(4, '0').slice(0, digits)}`,
  );

describe('overage money', () => {
  it('rounds as Stripe does: 30 × 0.05 ¢ is 2 ¢, 1,000 × 0.12 ¢ is 120 ¢, 4 × 0.12 ¢ is 0 ¢', () => {
    expect(overageCents(30, '0.05')).toBe(2);
    expect(overageCents(1000, '0.12')).toBe(120);
    expect(overageCents(4, '0.12')).toBe(0);
    expect(overageCents(5, '0.1')).toBe(1);
    expect(spentCents({ overageCredits: 16_000, topUpCents: 1000 }, '0.12')).toBe(2920);
  });

  it('bills what the emulator’s invoice line bills, for any decimal and quantity', () => {
    fc.assert(
      fc.property(decimal, fc.integer({ min: 0, max: 10_000_000 }), (price, credits) => {
        expect(overageCents(credits, price)).toBe(decimalTimes(price, credits));
        // Never a float: the same as exact arithmetic on the decimal's digits.
        const [whole = '0', fraction = ''] = price.split('.');
        const scaled = BigInt(`${whole}${fraction}`) * BigInt(credits);
        const scale = 10n ** BigInt(fraction.length);
        expect(BigInt(overageCents(credits, price)) * scale * 2n).toBeGreaterThanOrEqual(scaled * 2n - scale);
      }),
    );
  });

  it('leaves room for the most credits that fit under the limit, and not one more', () => {
    fc.assert(
      fc.property(
        decimal.filter((price) => Number(price) > 0),
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 0, max: 50_000 }),
        fc.integer({ min: 0, max: 50_000 }),
        fc.integer({ min: 0, max: 2000 }),
        (price, limit, billed, held, topUps) => {
          const room = overageRoom(limit, { overageCredits: billed, topUpCents: topUps }, held, price);
          const cost = (credits: number) => overageCents(credits, price) + topUps;
          if (room > 0) expect(cost(billed + held + room)).toBeLessThanOrEqual(limit);
          // One more never fits (unless nothing fitted at all: what is billed or held may already pass it).
          if (cost(billed + held) <= limit) expect(cost(billed + held + room + 1)).toBeGreaterThan(limit);
        },
      ),
    );
  });

  it('has no room at a limit of 0, and all the room there is without one', () => {
    expect(overageRoom(0, { overageCredits: 0, topUpCents: 0 }, 0, '0.12')).toBe(0);
    expect(overageRoom(null, { overageCredits: 10, topUpCents: 0 }, 0, '0.12')).toBe(Number.MAX_SAFE_INTEGER);
    expect(overageRoom(100, { overageCredits: 0, topUpCents: 200 }, 0, '0.12')).toBe(0);
  });
});
