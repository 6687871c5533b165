import { loadPlanCatalog, PlanCatalogError } from '../../src/services/plans/plan-catalog';
import { edited, lineOf, realPlans, writeVariant } from '../support/plans-file';

/**
 * The credit parts of plans/plans.yaml (issue 17): `credits:`, `models:` (the rate card), `creditPacks:` and each
 * plan's `credits:`, read from the real file and refused with the line and the reason when wrong.
 */

const _original = realPlans;

function failureOf(text: string): PlanCatalogError {
  const path = writeVariant(text);
  try {
    loadPlanCatalog(path);
  } catch (error) {
    if (error instanceof PlanCatalogError) {
      expect(error.message).toContain(`${path}:${error.line}:`);
      return error;
    }
    throw error;
  }
  throw new Error('expected the catalog to be refused');
}

/** The file is refused with an issue matching `reason` on `line`. */
function expectIssue(text: string, line: number, reason: RegExp): void {
  const error = failureOf(text);
  const issue = error.issues.find((candidate) => reason.test(`${candidate.path}: ${candidate.reason}`));
  expect({ issues: error.issues, found: issue !== undefined }).toMatchObject({ found: true });
  expect(issue?.line).toBe(line);
}

describe('credits in the real plans/plans.yaml', () => {
  const catalog = loadPlanCatalog();

  it('reads the packs with their credits, amounts per currency and lookup keys, never expiring', () => {
    expect(catalog.creditPacks()).toEqual([
      {
        key: 'credits_10k',
        name: '10,000 credits',
        credits: 10000,
        amounts: { usd: 1000, eur: 900 },
        lookupKey: 'price_credits_10k',
        expiresAfterDays: null,
      },
      {
        key: 'credits_50k',
        name: '50,000 credits',
        credits: 50000,
        amounts: { usd: 4500, eur: 4200 },
        lookupKey: 'price_credits_50k',
        expiresAfterDays: null,
      },
      {
        key: 'credits_200k',
        name: '200,000 credits',
        credits: 200000,
        amounts: { usd: 16000, eur: 15000 },
        lookupKey: 'price_credits_200k',
        expiresAfterDays: null,
      },
    ]);
    expect(catalog.findCreditPack('credits_50k')?.credits).toBe(50000);
    expect(catalog.findCreditPack('credits_1m')).toBeUndefined();
  });

  it('reads the credits each plan includes and what rolls over; a plan that says nothing includes none', () => {
    expect(catalog.plans().map((plan) => [plan.key, plan.credits])).toEqual([
      ['free', { included: 1000, rollover: { kind: 'none' }, overLimit: 'block' }],
      ['starter', { included: 20000, rollover: { kind: 'none' }, overLimit: 'bill_overage' }],
      [
        'professional',
        { included: 100000, rollover: { kind: 'max', max: 50000 }, overLimit: 'bill_overage' },
      ],
      ['enterprise', { included: 0, rollover: { kind: 'none' }, overLimit: 'block' }],
    ]);
  });

  it('refuses credits billed as overage on the free plan, or without the ai_credits metered price', () => {
    const free = edited(
      '      included: 1000 # about',
      '      overLimit: bill_overage\n      included: 1000 # about',
    );
    expectIssue(
      free,
      lineOf(free, '      overLimit: bill_overage'),
      /free plan has no subscription to bill overage on/,
    );
    const unpriced = edited(
      / {2}- metric: ai_credits\n[\s\S]*?productName: CODITECT AI credits \(overage\)\n/,
      '',
    );
    expectIssue(
      unpriced,
      lineOf(unpriced, '      overLimit: bill_overage', 'included: 20000'),
      /bill_overage needs a metered price for ai_credits under meteredPrices/,
    );
  });

  it('reads each model’s versions as times with integer credits per million tokens', () => {
    expect(catalog.catalog.models['gpt-5-mini']).toEqual([
      {
        effectiveFrom: new Date('2026-01-01T00:00:00Z'),
        inputCreditsPerMillion: 250,
        outputCreditsPerMillion: 2000,
      },
    ]);
  });

  it('reads a rollover as a percentage, and a pack that expires', () => {
    const text = edited('rollover: { max: 50000 }', 'rollover: { percent: 25 }').replace(
      '    lookupKey: price_credits_200k\n',
      '    lookupKey: price_credits_200k\n    expiresAfterDays: 365\n',
    );
    const variant = loadPlanCatalog(writeVariant(text));
    expect(variant.plan('professional').credits.rollover).toEqual({ kind: 'percent', percent: 25 });
    expect(variant.findCreditPack('credits_200k')?.expiresAfterDays).toBe(365);
  });
});

describe('a broken rate card names the line and the reason', () => {
  it('refuses versions out of order, or two at one moment, on the later one’s line', () => {
    const twoVersions = edited(
      /( {2}gpt-5:\n {4}- effectiveFrom: '2026-01-01T00:00:00Z'\n {6}inputCreditsPerMillion: 1250\n {6}outputCreditsPerMillion: 10000\n)/,
      "$1    - effectiveFrom: '2025-06-01T00:00:00Z'\n      inputCreditsPerMillion: 1000\n      outputCreditsPerMillion: 8000\n",
    );
    expectIssue(
      twoVersions,
      lineOf(twoVersions, "effectiveFrom: '2025-06-01T00:00:00Z'"),
      /^models\.gpt-5\[1\]\.effectiveFrom: must be later than the version before it \(2026-01-01T00:00:00\.000Z\)/,
    );
    const duplicate = twoVersions.replace("'2025-06-01T00:00:00Z'", "'2026-01-01T00:00:00Z'");
    expectIssue(
      duplicate,
      lineOf(duplicate, 'inputCreditsPerMillion: 1000', 'outputCreditsPerMillion: 10000') - 1,
      /^models\.gpt-5\[1\]\.effectiveFrom: must be later/,
    );
  });

  it('refuses a price that is negative, fractional or written as dollars', () => {
    const negative = edited('inputCreditsPerMillion: 1000', 'inputCreditsPerMillion: -1');
    expectIssue(negative, lineOf(negative, 'inputCreditsPerMillion: -1'), /must be zero or more/);
    const fraction = edited('outputCreditsPerMillion: 2000', 'outputCreditsPerMillion: 2000.5');
    expectIssue(
      fraction,
      lineOf(fraction, 'outputCreditsPerMillion: 2000.5'),
      /^models\.gpt-5-mini\[0\]\.outputCreditsPerMillion: must be a whole number/,
    );
  });

  it('refuses a model without a version, a bad model key and a time without its zone', () => {
    const empty = edited(/ {2}claude-haiku-4:\n(?: {4}.*\n| {6}.*\n)+/, '  claude-haiku-4: []\n');
    expectIssue(empty, lineOf(empty, 'claude-haiku-4: []'), /give the model at least one price version/);
    const badKey = edited('  gpt-5-mini:', '  GPT 5 Mini:');
    expectIssue(badKey, lineOf(badKey, 'GPT 5 Mini'), /a model key is lower-case letters/);
    const noZone = edited(
      "effectiveFrom: '2026-01-01T00:00:00Z'\n      inputCreditsPerMillion: 250",
      "effectiveFrom: '2026-01-01 00:00'\n      inputCreditsPerMillion: 250",
    );
    expectIssue(noZone, lineOf(noZone, '2026-01-01 00:00'), /must be a time with its zone/);
  });

  it('refuses a misspelt key in a version on its own line', () => {
    const typo = edited('outputCreditsPerMillion: 5000', 'outputCreditPerMillion: 5000');
    expectIssue(typo, lineOf(typo, 'outputCreditPerMillion'), /unknown key outputCreditPerMillion/);
  });
});

describe('broken credit packs name the line and the reason', () => {
  it('refuses a pack without an amount in every currency', () => {
    const text = edited('amounts: { usd: 4500, eur: 4200 }', 'amounts: { usd: 4500 }');
    expectIssue(
      text,
      lineOf(text, 'amounts: { usd: 4500 }'),
      /^creditPacks\[1\]\.amounts: needs an amount in eur/,
    );
  });

  it('refuses dollars with a decimal point, a fractional credit count and zero credits', () => {
    const dollars = edited('amounts: { usd: 1000, eur: 900 }', 'amounts: { usd: 10.00, eur: 900 }');
    expectIssue(dollars, lineOf(dollars, 'usd: 10.00'), /write whole numbers without a decimal point/);
    const zero = edited('credits: 50000', 'credits: 0');
    expectIssue(
      zero,
      lineOf(zero, 'credits: 0'),
      /^creditPacks\[1\]\.credits: a pack sells at least one credit/,
    );
  });

  it('refuses a lookup key another price holds, and a pack key used twice', () => {
    const taken = edited('lookupKey: price_credits_50k', 'lookupKey: price_starter_monthly');
    expectIssue(
      taken,
      lineOf(taken, 'lookupKey: price_starter_monthly', 'key: credits_50k'),
      /^creditPacks\[1\]\.lookupKey: lookup key price_starter_monthly is used twice/,
    );
    const twice = edited('key: credits_200k', 'key: credits_10k');
    expectIssue(
      twice,
      lineOf(twice, 'key: credits_10k', 'name: 50,000 credits'),
      /credit pack key credits_10k is used twice/,
    );
  });

  it('refuses an expiry that is not a positive whole number of days', () => {
    const text = edited(
      '    lookupKey: price_credits_10k\n',
      '    lookupKey: price_credits_10k\n    expiresAfterDays: 0\n',
    );
    expectIssue(text, lineOf(text, 'expiresAfterDays: 0'), /must be at least 1 day/);
  });
});

describe('a broken plan credits entry names the line and the reason', () => {
  it('refuses a rollover that is none of none, a percentage or a maximum', () => {
    const text = edited('rollover: { max: 50000 }', 'rollover: { percent: 150 }');
    expectIssue(
      text,
      lineOf(text, 'rollover: { percent: 150 }'),
      /^plans\[2\]\.credits\.rollover\.percent: must be from 1 to 100/,
    );
    const other = edited('rollover: { max: 50000 }', 'rollover: all');
    expectIssue(
      other,
      lineOf(other, 'rollover: all'),
      /^plans\[2\]\.credits\.rollover: must be none, \{ percent: 1 to 100 \} or \{ max:/,
    );
  });

  it('refuses a rollover on a plan that includes no credits, and included credits that are not whole', () => {
    const nothing = edited('included: 100000\n      rollover', 'included: 0\n      rollover');
    expectIssue(
      nothing,
      lineOf(nothing, 'rollover: { max: 50000 }'),
      /^plans\[2\]\.credits\.rollover: a plan that includes no credits has nothing to roll over/,
    );
    const fraction = edited('included: 20000 #', 'included: 20000.5 #');
    expectIssue(
      fraction,
      lineOf(fraction, 'included: 20000.5'),
      /^plans\[1\]\.credits\.included: must be a whole number/,
    );
  });
});
