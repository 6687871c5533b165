import fc from 'fast-check';
import { ErrorCode } from '../../src/errors';
import { loadPlanCatalog } from '../../src/services/plans/plan-catalog';
import type { RateCardModels } from '../../src/services/plans/credit.types';
import { RateCard, TokenCountError, UnknownModelError } from '../../src/services/plans/rate-card';

/**
 * The rate card (plans.yaml `models:`, docs/credits.md): which version prices a call, and what a call costs in
 * exact integer arithmetic, one rounding up per call. docs/billing-rules.md rows 62 and 63.
 */

const JANUARY = new Date('2027-01-01T00:00:00Z');
const MARCH = new Date('2027-03-01T00:00:00Z');

const card = new RateCard({
  sonnet: [
    { effectiveFrom: JANUARY, inputCreditsPerMillion: 3000, outputCreditsPerMillion: 15000 },
    { effectiveFrom: MARCH, inputCreditsPerMillion: 2500, outputCreditsPerMillion: 12500 },
  ],
  mini: [{ effectiveFrom: JANUARY, inputCreditsPerMillion: 250, outputCreditsPerMillion: 2000 }],
  later: [{ effectiveFrom: MARCH, inputCreditsPerMillion: 1, outputCreditsPerMillion: 1 }],
});

const at = new Date('2027-02-01T00:00:00Z');
const tokens = fc.integer({ min: 0, max: 50_000_000 });
const rate = fc.integer({ min: 0, max: 2_147_483_647 });

/** A one-model card priced at `input`/`output` credits per million. */
function cardOf(input: number, output: number): RateCard {
  return new RateCard({
    model: [{ effectiveFrom: JANUARY, inputCreditsPerMillion: input, outputCreditsPerMillion: output }],
  });
}

describe('the price of a call (billing-rules row 62)', () => {
  it('row 62: rounds the whole call up once: 1,200 in and 300 out of sonnet is 8.1 credits, so 9', () => {
    expect(card.creditsFor({ model: 'sonnet', inputTokens: 1200, outputTokens: 300, at })).toBe(9);
    // Rounded per side it would be 4 + 5 = 10: one rounding per call charges what the call cost, plus < 1.
    expect(card.creditsFor({ model: 'sonnet', inputTokens: 1, outputTokens: 0, at })).toBe(1);
    expect(card.creditsFor({ model: 'sonnet', inputTokens: 1_000_000, outputTokens: 0, at })).toBe(3000);
    expect(card.creditsFor({ model: 'sonnet', inputTokens: 0, outputTokens: 0, at })).toBe(0);
  });

  it('row 62: no call with tokens is free on a model with a price: any token costs at least 1 credit', () => {
    fc.assert(
      fc.property(tokens, tokens, fc.integer({ min: 1, max: 100_000 }), (input, output, price) => {
        fc.pre(input + output > 0);
        expect(
          cardOf(price, price).creditsFor({ model: 'model', inputTokens: input, outputTokens: output, at }),
        ).toBeGreaterThanOrEqual(1);
      }),
    );
  });

  it('row 62: equals ceil(exact cost / 1,000,000), within one credit above the exact cost, in exact arithmetic', () => {
    const huge = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    fc.assert(
      fc.property(huge, huge, rate, rate, (input, output, inputRate, outputRate) => {
        const exact = BigInt(input) * BigInt(inputRate) + BigInt(output) * BigInt(outputRate);
        const expected = exact === 0n ? 0n : (exact - 1n) / 1_000_000n + 1n;
        const call = { model: 'model', inputTokens: input, outputTokens: output, at };
        if (expected > BigInt(Number.MAX_SAFE_INTEGER)) {
          expect(() => cardOf(inputRate, outputRate).creditsFor(call)).toThrow(TokenCountError);
          return;
        }
        const credits = BigInt(cardOf(inputRate, outputRate).creditsFor(call));
        expect(credits).toBe(expected);
        expect(credits * 1_000_000n >= exact).toBe(true);
        expect(credits * 1_000_000n - exact < 1_000_000n).toBe(true);
      }),
    );
  });

  it('is monotone: more input or output tokens never cost fewer credits', () => {
    fc.assert(
      fc.property(
        tokens,
        tokens,
        tokens,
        tokens,
        rate,
        rate,
        (input, output, moreIn, moreOut, inRate, outRate) => {
          const priced = cardOf(inRate, outRate);
          const less = priced.creditsFor({ model: 'model', inputTokens: input, outputTokens: output, at });
          const more = priced.creditsFor({
            model: 'model',
            inputTokens: input + moreIn,
            outputTokens: output + moreOut,
            at,
          });
          expect(more).toBeGreaterThanOrEqual(less);
        },
      ),
    );
  });

  it('is additive within rounding: one call costs no more than its two halves billed apart, and at most 1 less', () => {
    fc.assert(
      fc.property(tokens, tokens, tokens, tokens, rate, rate, (in1, out1, in2, out2, inRate, outRate) => {
        const priced = cardOf(inRate, outRate);
        const credits = (inputTokens: number, outputTokens: number) =>
          priced.creditsFor({ model: 'model', inputTokens, outputTokens, at });
        const whole = credits(in1 + in2, out1 + out2);
        const split = credits(in1, out1) + credits(in2, out2);
        expect(whole).toBeLessThanOrEqual(split);
        expect(split - whole).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('refuses token counts that are not whole numbers of zero or more', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1]) {
      expect(() => card.creditsFor({ model: 'sonnet', inputTokens: bad, outputTokens: 0, at })).toThrow(
        TokenCountError,
      );
    }
    expect(() => card.creditsFor({ model: 'sonnet', inputTokens: 0, outputTokens: -3, at })).toThrow(
      /outputTokens must be a whole number/,
    );
  });
});

describe('which version prices a call (billing-rules row 63)', () => {
  it('row 63: a rate change applies from its effectiveFrom, to the millisecond, never before it', () => {
    const justBefore = new Date(MARCH.getTime() - 1);
    expect(card.priceAt('sonnet', justBefore).inputCreditsPerMillion).toBe(3000);
    expect(card.priceAt('sonnet', MARCH).inputCreditsPerMillion).toBe(2500);
    const call = { model: 'sonnet', inputTokens: 1_000_000, outputTokens: 1_000_000 };
    expect(card.creditsFor({ ...call, at: justBefore })).toBe(18000);
    expect(card.creditsFor({ ...call, at: MARCH })).toBe(15000);
    expect(card.quote({ ...call, at: justBefore }).price.effectiveFrom).toEqual(JANUARY);
  });

  it('row 63: for any moment, the version in effect is the latest that started at or before it', () => {
    const versions = fc
      .uniqueArray(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 6 })
      .map((starts) => [...starts].sort((a, b) => a - b));
    fc.assert(
      fc.property(versions, fc.integer({ min: 0, max: 1_100_000 }), (starts, moment) => {
        const models: RateCardModels = {
          model: starts.map((start, index) => ({
            effectiveFrom: new Date(start),
            inputCreditsPerMillion: index,
            outputCreditsPerMillion: index,
          })),
        };
        const priced = new RateCard(models);
        const inEffect = starts.filter((start) => start <= moment);
        if (inEffect.length === 0) {
          expect(() => priced.priceAt('model', new Date(moment))).toThrow(UnknownModelError);
          return;
        }
        expect(priced.priceAt('model', new Date(moment)).inputCreditsPerMillion).toBe(inEffect.length - 1);
        const next = priced.nextPriceAfter('model', new Date(moment));
        expect(next?.effectiveFrom.getTime() ?? null).toBe(starts[inEffect.length] ?? null);
      }),
    );
  });

  it('lists the prices in effect with the next version, leaving out models not yet priced', () => {
    expect(
      card
        .pricesAt(at)
        .map((entry) => [entry.model, entry.current.inputCreditsPerMillion, entry.next?.effectiveFrom]),
    ).toEqual([
      ['sonnet', 3000, MARCH],
      ['mini', 250, undefined],
    ]);
    expect(card.pricesAt(MARCH).map((entry) => entry.model)).toEqual(['sonnet', 'mini', 'later']);
  });
});

describe('a model the card does not price', () => {
  it('is refused with BAD_USER_INPUT naming the model and the known ones, never priced at 0', () => {
    const refusal = (() => {
      try {
        card.creditsFor({ model: 'gpt-9', inputTokens: 10, outputTokens: 10, at });
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(refusal).toBeInstanceOf(UnknownModelError);
    expect((refusal as UnknownModelError).message).toBe(
      'Unknown model gpt-9: the rate card prices sonnet, mini, later',
    );
    expect((refusal as UnknownModelError).extensions).toEqual({
      code: ErrorCode.BAD_USER_INPUT,
      field: 'model',
      reason: 'UNKNOWN_MODEL',
      model: 'gpt-9',
      knownModels: ['sonnet', 'mini', 'later'],
    });
  });

  it('is refused before its first version, and names are never read from the prototype', () => {
    expect(() => card.priceAt('later', at)).toThrow(
      /Model later is priced only from 2027-03-01T00:00:00.000Z/,
    );
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(() => card.priceAt(name, at)).toThrow(UnknownModelError);
    }
  });
});

describe('the rate card of the real plans/plans.yaml', () => {
  const catalog = loadPlanCatalog();

  it('prices the four models and the worked example of the file and docs/credits.md', () => {
    expect(catalog.rateCard.modelKeys()).toEqual([
      'claude-sonnet-4',
      'claude-haiku-4',
      'gpt-5',
      'gpt-5-mini',
    ]);
    const now = new Date('2026-12-06T00:00:00Z');
    expect(
      catalog.rateCard.creditsFor({
        model: 'claude-sonnet-4',
        inputTokens: 1200,
        outputTokens: 300,
        at: now,
      }),
    ).toBe(9);
    expect(catalog.creditUnit).toBe('credit');
  });
});
