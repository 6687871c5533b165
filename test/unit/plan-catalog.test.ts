import {
  loadPlanCatalog,
  PlanCatalog,
  PlanCatalogError,
  UnknownPlanError,
} from '../../src/services/plans/plan-catalog';
import { edited, lineOf, REAL_PLANS_FILE, realPlans, writeVariant } from '../support/plans-file';

const _REAL_FILE = REAL_PLANS_FILE;
const _original = realPlans;

/** Loads a variant and returns the error it must throw. */
function failureOf(text: string): PlanCatalogError {
  const path = writeVariant(text);
  try {
    loadPlanCatalog(path);
  } catch (error) {
    if (error instanceof PlanCatalogError) {
      expect(error.file).toBe(path);
      expect(error.message).toContain(`${path}:${error.line}:`);
      return error;
    }
    throw error;
  }
  throw new Error('expected the catalog to be refused');
}

function expectIssue(text: string, line: number, reason: RegExp): void {
  const error = failureOf(text);
  const issue = error.issues.find((candidate) => reason.test(`${candidate.path}: ${candidate.reason}`));
  expect({ issues: error.issues, found: issue !== undefined }).toMatchObject({ found: true });
  expect(issue?.line).toBe(line);
}

describe('the real plans/plans.yaml', () => {
  const catalog = loadPlanCatalog();

  it('loads from the default path with the plans in file order', () => {
    expect(catalog).toBeInstanceOf(PlanCatalog);
    expect(catalog.currencies).toEqual(['usd', 'eur']);
    expect(catalog.baseCurrency).toBe('usd');
    expect(catalog.plans().map((plan) => plan.key)).toEqual([
      'free',
      'starter',
      'professional',
      'enterprise',
    ]);
    expect(catalog.selfServePlans().map((plan) => plan.key)).toEqual(['starter', 'professional']);
  });

  it('holds the prices in integer cents of every currency, with their lookup keys', () => {
    expect(catalog.plan('starter').prices).toEqual([
      { interval: 'month', amounts: { usd: 1900, eur: 1800 }, lookupKey: 'price_starter_monthly' },
      { interval: 'year', amounts: { usd: 19000, eur: 18000 }, lookupKey: 'price_starter_yearly' },
    ]);
    expect(catalog.plan('professional').prices).toEqual([
      { interval: 'month', amounts: { usd: 4900, eur: 4500 }, lookupKey: 'price_professional_monthly' },
      { interval: 'year', amounts: { usd: 49000, eur: 45000 }, lookupKey: 'price_professional_yearly' },
    ]);
    expect(catalog.plan('free').prices).toEqual([]);
    expect(catalog.plan('enterprise')).toMatchObject({ prices: [], salesLed: true });
    expect(catalog.priceFor('starter', 'year')?.amounts.usd).toBe(19000);
    expect(catalog.priceFor('free', 'month')).toBeUndefined();
  });

  it('holds the limits, trials and features of each plan', () => {
    const limits = (key: string) =>
      Object.fromEntries(
        catalog.plan(key).limits.map((limit) => [limit.metric, [limit.included, limit.overLimit]]),
      );
    expect(limits('free')).toEqual({
      ai_requests: [100, 'block'],
      storage_mb: [100, 'block'],
      seats: [1, 'block'],
    });
    expect(limits('starter')).toEqual({
      ai_requests: [1000, 'bill_overage'],
      storage_mb: [1024, 'bill_overage'],
      seats: [3, 'block'],
    });
    expect(limits('professional')).toEqual({
      ai_requests: [10000, 'bill_overage'],
      storage_mb: [10240, 'bill_overage'],
      seats: [5, 'block'],
    });
    expect(limits('enterprise')).toEqual({
      ai_requests: [null, 'block'],
      storage_mb: [null, 'block'],
      seats: [null, 'block'],
    });
    expect(catalog.plans().map((plan) => plan.trialDays)).toEqual([0, 14, 14, 0]);
    expect(catalog.plan('starter').trialEndWithoutPaymentMethod).toBe('cancel');
    expect(catalog.plan('free').features).toMatchObject({
      ai_assistant: true,
      api_access: false,
      sso: false,
    });
    expect(catalog.plan('enterprise').features).toMatchObject({ sso: true, audit_logs: true });
    expect(catalog.metric('storage_mb')).toEqual({ kind: 'gauge', unit: 'MB' });
  });

  it('holds the metered overage prices with their meters', () => {
    expect(catalog.meteredPrice('ai_requests')).toEqual({
      metric: 'ai_requests',
      meterEventName: 'coditect_ai_requests',
      aggregation: 'sum',
      unitAmountsDecimal: { usd: '1', eur: '1' },
      lookupKey: 'price_ai_requests_overage',
      yearlyLookupKey: 'price_ai_requests_overage_yearly',
      productName: 'CODITECT AI requests (overage)',
    });
    expect(catalog.meteredPrice('storage_mb')).toMatchObject({
      meterEventName: 'coditect_storage_mb_overage',
      aggregation: 'sum',
      unitAmountsDecimal: { usd: '5', eur: '5' },
    });
    expect(catalog.meteredPrice('seats')).toBeUndefined();
  });

  it('lists the overage prices a plan carries, for each interval', () => {
    expect(catalog.overageLookupKeys('starter', 'month')).toEqual([
      'price_ai_requests_overage',
      'price_storage_mb_overage',
      'price_ai_credits_overage',
    ]);
    expect(catalog.overageLookupKeys('professional', 'year')).toEqual([
      'price_ai_requests_overage_yearly',
      'price_storage_mb_overage_yearly',
      'price_ai_credits_overage_yearly',
    ]);
    expect(catalog.overageLookupKeys('enterprise', 'month')).toEqual([]);
    expect(catalog.overageLookupKeys('free', 'month')).toEqual([]);
  });

  it('answers the lookups the services need', () => {
    expect(catalog.freePlan().key).toBe('free');
    expect(catalog.planForLookupKey('price_professional_yearly')?.key).toBe('professional');
    expect(catalog.planForLookupKey('price_someone_elses')).toBeUndefined();
    expect(catalog.find('nope')).toBeUndefined();
    expect(() => catalog.plan('platinum')).toThrow(UnknownPlanError);
    expect(() => catalog.plan('platinum')).toThrow('Unknown plan platinum');
  });
});

describe('a broken file names the line and the reason', () => {
  it('refuses YAML syntax errors', () => {
    const colon = edited('    name: Starter', '    name: Starter: Plus');
    expectIssue(colon, lineOf(colon, 'name: Starter: Plus'), /Nested mappings are not allowed/);
    const quote = edited('    name: Starter', '    name: "Starter');
    expectIssue(quote, lineOf(quote, 'name: "Starter'), /Missing closing "quote/);
    const tab = edited('    name: Starter', '\tname: Starter');
    expectIssue(tab, lineOf(tab, '\tname: Starter'), /Tabs are not allowed as indentation/);
  });

  it('refuses a key written twice in one mapping', () => {
    const text = edited('    trialDays: 14\n', '    trialDays: 14\n    trialDays: 7\n');
    expectIssue(text, lineOf(text, 'trialDays: 7'), /unique/i);
  });

  it('refuses dollars written as a decimal, which YAML would read as whole cents', () => {
    const text = edited('usd: 1900, eur', 'usd: 19.00, eur');
    expectIssue(
      text,
      lineOf(text, 'usd: 19.00'),
      /plans\[1\]\.prices\[0\]\.amounts\.usd: write whole numbers/,
    );
  });

  it('refuses fractions of a cent in a plan price', () => {
    const text = edited('usd: 4900, eur', 'usd: 4900.5, eur');
    expectIssue(text, lineOf(text, 'usd: 4900.5'), /amounts\.usd: must be whole cents/);
  });

  it('refuses a price that is not positive', () => {
    const text = edited('usd: 19000, eur', 'usd: 0, eur');
    expectIssue(text, lineOf(text, 'usd: 0, eur'), /must be a positive number of cents/);
  });

  it('refuses an amount written as text', () => {
    const text = edited('usd: 49000, eur', "usd: '49000', eur");
    expectIssue(text, lineOf(text, "usd: '49000'"), /must be a number of cents/);
  });

  it('refuses a misspelt key on its own line', () => {
    const text = edited('    trialDays: 14\n    # A trial', '    trialDay: 14\n    # A trial');
    expectIssue(text, lineOf(text, 'trialDay: 14'), /unknown key trialDay/);
    // …and the missing field it was meant to be, at the plan that lacks it.
    expectIssue(text, lineOf(text, '- key: starter'), /plans\[1\]\.trialDays: is required/);
  });

  it('refuses a missing field at the entry that lacks it', () => {
    const text = edited('    name: Professional\n', '');
    expectIssue(text, lineOf(text, '- key: professional'), /plans\[2\]\.name: is required/);
  });

  it('refuses an unknown interval', () => {
    const text = edited(
      '      - interval: year\n        amounts: { usd: 49000',
      '      - interval: weekly\n        amounts: { usd: 49000',
    );
    expectIssue(text, lineOf(text, 'interval: weekly'), /prices\[1\]\.interval: Invalid enum value/);
  });

  it('refuses a limit that is neither a number nor unlimited', () => {
    const text = edited(/included: unlimited\n/, 'included: infinite\n');
    expectIssue(
      text,
      lineOf(text, 'included: infinite'),
      /limits\[0\]\.included: must be a whole number of units or `unlimited`/,
    );
  });

  it('refuses an unquoted overage amount', () => {
    const text = edited("usd: '5', eur", 'usd: 5, eur');
    expectIssue(
      text,
      lineOf(text, 'usd: 5, eur'),
      /meteredPrices\[1\]\.unitAmountsDecimal\.usd: must be a quoted decimal/,
    );
  });

  it('refuses an overage amount with too many decimals or of zero', () => {
    const tooPrecise = edited("usd: '1', eur", "usd: '0.0000000000001', eur");
    expectIssue(tooPrecise, lineOf(tooPrecise, "'0.0000000000001'"), /at most 12 decimals/);
    const zero = edited("usd: '1', eur", "usd: '0.0', eur");
    expectIssue(zero, lineOf(zero, "'0.0'"), /must be more than zero/);
  });

  it('refuses a file that cannot be read', () => {
    const error = (() => {
      try {
        loadPlanCatalog(`${writeVariant('')}.missing`);
      } catch (caught) {
        return caught;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(PlanCatalogError);
    expect((error as PlanCatalogError).reason).toMatch(/cannot be read/);
    expect((error as PlanCatalogError).line).toBe(1);
  });

  it('lists every problem, first line first', () => {
    const text = edited(
      'usd: 4900, eur',
      'usd: -1, eur',
      edited('    name: Starter\n', '    nam: Starter\n'),
    );
    const error = failureOf(text);
    expect(error.issues.length).toBeGreaterThanOrEqual(3);
    const lines = error.issues.map((issue) => issue.line);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
    expect(error.line).toBe(lines[0]);
  });
});

describe('the cross-checks', () => {
  it('refuses two plans with one key', () => {
    const text = edited('  - key: professional', '  - key: starter');
    expectIssue(
      text,
      lineOf(text, '- key: starter', 'description: For individuals'),
      /plan key starter is used twice/,
    );
  });

  it('refuses a lookup key used twice, across plans and metered prices', () => {
    const betweenPlans = edited('lookupKey: price_professional_yearly', 'lookupKey: price_starter_yearly');
    expectIssue(
      betweenPlans,
      lineOf(betweenPlans, 'lookupKey: price_starter_yearly', 'usd: 49000'),
      /plans\[2\]\.prices\[1\]\.lookupKey: lookup key price_starter_yearly is used twice/,
    );
    const withMetered = edited('lookupKey: price_storage_mb_overage', 'lookupKey: price_starter_monthly');
    expectIssue(
      withMetered,
      lineOf(withMetered, 'lookupKey: price_starter_monthly', "usd: '5'"),
      /meteredPrices\[1\]\.lookupKey: lookup key price_starter_monthly is used twice/,
    );
  });

  it('refuses a limit on a metric that is not declared', () => {
    const text = edited('  seats:\n    kind: gauge\n    unit: seat\n', '');
    expectIssue(
      text,
      lineOf(text, '- metric: seats'),
      /plans\[0\]\.limits\[2\]\.metric: metric seats is not declared/,
    );
    expectIssue(text, lineOf(text, 'metrics:'), /metric seats is not declared: add it/);
  });

  it('refuses bill_overage without a metered price for the metric', () => {
    const text = edited(/ {2}- metric: storage_mb\n {4}meterEventName[\s\S]*$/, '');
    expectIssue(
      text,
      lineOf(text, 'overLimit: bill_overage', 'included: 1024'),
      /plans\[1\]\.limits\[1\]\.overLimit: bill_overage needs a metered price for storage_mb/,
    );
  });

  it('refuses two prices for one interval', () => {
    const text = edited(
      '      - interval: year\n        amounts: { usd: 19000',
      '      - interval: month\n        amounts: { usd: 19000',
    );
    expectIssue(
      text,
      lineOf(text, 'interval: month', 'usd: 1900,'),
      /plan starter has more than one monthly price/,
    );
  });

  it('refuses a price without an amount in every currency, or in a currency the file does not list', () => {
    const noEuro = edited('usd: 4900, eur: 4500 }', 'usd: 4900 }');
    expectIssue(
      noEuro,
      lineOf(noEuro, 'amounts: { usd: 4900 }'),
      /plans\[2\]\.prices\[0\]\.amounts: needs an amount in eur \(every currency of currencies:\)/,
    );
    const pounds = edited('usd: 19000, eur: 18000 }', 'usd: 19000, eur: 18000, gbp: 16000 }');
    expectIssue(
      pounds,
      lineOf(pounds, 'gbp: 16000'),
      /plans\[1\]\.prices\[1\]\.amounts\.gbp: gbp is not one of the catalog's currencies \(usd, eur\)/,
    );
    const meteredNoEuro = edited("{ usd: '5', eur: '5' }", "{ usd: '5' }");
    expectIssue(
      meteredNoEuro,
      lineOf(meteredNoEuro, "{ usd: '5' }"),
      /meteredPrices\[1\]\.unitAmountsDecimal: needs an amount in eur/,
    );
  });

  it('refuses a currency listed twice, an empty list, and a code that is not lower-case ISO 4217', () => {
    const twice = edited('currencies: [usd, eur]', 'currencies: [usd, eur, usd]');
    expectIssue(twice, lineOf(twice, 'currencies: [usd, eur, usd]'), /currencies\[2\]: usd is listed twice/);
    const none = edited('currencies: [usd, eur]', 'currencies: []');
    expectIssue(none, lineOf(none, 'currencies: []'), /name at least one currency/);
    const upper = edited('currencies: [usd, eur]', 'currencies: [usd, EUR]');
    expectIssue(upper, lineOf(upper, 'currencies: [usd, EUR]'), /lower-case ISO 4217/);
  });

  it('loads a catalog in one currency, as before', () => {
    const text = edited(/currencies: \[usd, eur\]/, 'currencies: [usd]').replace(/, eur: '?[\d.]+'?/g, '');
    const single = loadPlanCatalog(writeVariant(text));
    expect(single.currencies).toEqual(['usd']);
    expect(single.priceFor('starter', 'month')?.amounts).toEqual({ usd: 1900 });
  });

  it('refuses a price on the free plan', () => {
    const text = edited(
      '    prices: []\n    salesLed: false\n    productKey: null',
      '    prices:\n      - interval: month\n        amounts: { usd: 500, eur: 500 }\n        lookupKey: price_free_monthly\n    salesLed: false\n    productKey: null',
    );
    expectIssue(text, lineOf(text, 'prices:', 'key: free'), /the free plan has no Stripe price/);
  });

  it('requires a free plan', () => {
    const text = edited(/ {2}- key: free[\s\S]*?(?= {2}- key: starter)/, '');
    expectIssue(text, lineOf(text, 'plans:', '# Plans, in the order'), /a plan with key `free` is required/);
  });

  it('refuses a self-serve price on a sales-led plan, and a self-serve plan without a price', () => {
    const salesLed = edited(/(key: professional[\s\S]*?)salesLed: false/, '$1salesLed: true');
    expectIssue(salesLed, lineOf(salesLed, 'prices:', 'key: professional'), /plan professional is sales-led/);
    const noPrice = edited(/(key: enterprise[\s\S]*?)salesLed: true/, '$1salesLed: false');
    expectIssue(
      noPrice,
      lineOf(noPrice, 'prices: []', 'key: enterprise'),
      /plan enterprise is self-serve but has no price/,
    );
  });

  it('requires a product for every paid plan and none for free', () => {
    const text = edited('productKey: prod_coditect_enterprise', 'productKey: null');
    expectIssue(
      text,
      lineOf(text, 'productKey: null', 'key: enterprise'),
      /plan enterprise needs a productKey/,
    );
  });

  it('refuses one Stripe product id for two plans', () => {
    const text = edited('productKey: prod_coditect_enterprise', 'productKey: prod_coditect_starter');
    expectIssue(
      text,
      lineOf(text, 'productKey: prod_coditect_starter', 'key: enterprise'),
      /plans\[3\]\.productKey: productKey prod_coditect_starter is used twice/,
    );
  });

  it('refuses a plan whose features differ from the others (a misspelt feature)', () => {
    const text = edited(/(key: professional[\s\S]*?)api_access: true/, '$1api_acess: true');
    expectIssue(
      text,
      lineOf(text, 'features:', 'key: professional'),
      /missing api_access; unknown api_acess/,
    );
  });

  it('refuses a plan without a limit for every metric', () => {
    const text = edited(
      /(key: starter[\s\S]*?) {6}- metric: seats\n {8}included: 3\n {8}overLimit: block\n/,
      '$1',
    );
    expectIssue(text, lineOf(text, 'limits:', 'key: starter'), /plan starter has no limit for seats/);
  });

  it('refuses a meter aggregation other than sum, since overage is reported as increases', () => {
    const text = edited(
      /(meterEventName: coditect_storage_mb_overage[\s\S]*?)aggregation: sum/,
      '$1aggregation: last',
    );
    expectIssue(
      text,
      lineOf(text, 'aggregation: last', 'meterEventName: coditect_storage_mb_overage'),
      /storage_mb: overage is reported as increases, so its meter aggregates with sum/,
    );
  });

  it('refuses a yearly metered lookup key that another price uses', () => {
    const text = edited(
      'yearlyLookupKey: price_storage_mb_overage_yearly',
      'yearlyLookupKey: price_ai_requests_overage_yearly',
    );
    expectIssue(
      text,
      lineOf(text, 'yearlyLookupKey: price_ai_requests_overage_yearly', "usd: '5'"),
      /meteredPrices\[1\]\.yearlyLookupKey: lookup key price_ai_requests_overage_yearly is used twice/,
    );
  });

  it('refuses one meter event name for two metered prices', () => {
    const text = edited(
      'meterEventName: coditect_storage_mb_overage',
      'meterEventName: coditect_ai_requests',
    );
    expectIssue(
      text,
      lineOf(text, 'meterEventName: coditect_ai_requests', "usd: '1'"),
      /meteredPrices\[1\]\.meterEventName: meter event coditect_ai_requests is used twice/,
    );
  });
});

describe('coupons and promotion codes in plans/plans.yaml', () => {
  it('reads LAUNCH20: 20 % off for 3 months on Starter and Professional', () => {
    const catalog = loadPlanCatalog();
    expect(catalog.coupons()).toEqual([
      {
        id: 'launch20',
        name: 'Launch offer, 20 % off for 3 months',
        percentOff: 20,
        amountsOff: null,
        duration: 'repeating',
        durationInMonths: 3,
        plans: ['starter', 'professional'],
        redeemBy: null,
        maxRedemptions: null,
      },
    ]);
    expect(catalog.promotionCodes()).toEqual([
      {
        code: 'LAUNCH20',
        coupon: 'launch20',
        active: true,
        expiresAt: null,
        maxRedemptions: null,
        firstTimeOnly: false,
        minimumAmounts: null,
      },
    ]);
  });

  it('reads times and amounts per currency', () => {
    const text = edited(
      '    coupon: launch20\n',
      "    coupon: launch20\n    expiresAt: '2027-01-31T23:59:59Z'\n    minimumAmounts: { usd: 5000, eur: 4500 }\n",
    );
    const catalog = loadPlanCatalog(writeVariant(text));
    expect(catalog.promotionCodes()[0]).toMatchObject({
      expiresAt: new Date('2027-01-31T23:59:59Z'),
      minimumAmounts: { usd: 5000, eur: 4500 },
    });
  });

  it('names the line of a code whose coupon does not exist', () => {
    const text = edited('    coupon: launch20\n', '    coupon: launch30\n');
    expectIssue(text, lineOf(text, 'coupon: launch30'), /coupon launch30 is not declared under coupons/);
  });

  it('names the line of a plan restriction on an unknown plan, or on a plan without a product', () => {
    const unknown = edited('plans: [starter, professional]', 'plans: [starter, platinum]');
    expectIssue(unknown, lineOf(unknown, 'plans: [starter, platinum]'), /plan platinum is not declared/);
    const free = edited('plans: [starter, professional]', 'plans: [free]');
    expectIssue(free, lineOf(free, 'plans: [free]'), /plan free has no Stripe product/);
  });

  it('refuses percentOff outside 1–100, and both or neither of percentOff and amountsOff', () => {
    const over = edited('percentOff: 20', 'percentOff: 120');
    expectIssue(over, lineOf(over, 'percentOff: 120'), /percentOff: must be from 1 to 100/);
    const both = edited('percentOff: 20', 'percentOff: 20\n    amountsOff: { usd: 500, eur: 500 }');
    expectIssue(both, lineOf(both, '- id: launch20'), /needs exactly one of percentOff or amountsOff/);
  });

  it('refuses amountsOff that are not whole cents of every catalog currency', () => {
    const fractional = edited('percentOff: 20', 'amountsOff: { usd: 4.5, eur: 450 }');
    expectIssue(fractional, lineOf(fractional, 'amountsOff: { usd: 4.5'), /must be whole cents/);
    const euros = edited('percentOff: 20', 'amountsOff: { eur: 500 }');
    expectIssue(
      euros,
      lineOf(euros, 'amountsOff: { eur: 500 }'),
      /needs an amount in usd \(every currency of currencies:\)/,
    );
    const yen = edited('percentOff: 20', 'amountsOff: { usd: 500, eur: 500, jpy: 700 }');
    expectIssue(yen, lineOf(yen, 'jpy: 700'), /jpy is not one of the catalog's currencies \(usd, eur\)/);
  });

  it('allows durationInMonths only for a repeating coupon, and requires it there', () => {
    const once = edited('duration: repeating', 'duration: once');
    expectIssue(
      once,
      lineOf(once, 'durationInMonths: 3'),
      /durationInMonths is only for duration: repeating/,
    );
    const missing = edited('    durationInMonths: 3\n', '');
    expectIssue(missing, lineOf(missing, '- id: launch20'), /say for how many months/);
  });

  it("refuses a code that expires after its coupon's redeemBy", () => {
    const text = edited(
      '    coupon: launch20\n',
      "    coupon: launch20\n    expiresAt: '2028-01-01T00:00:00Z'\n",
      edited('    durationInMonths: 3\n', "    durationInMonths: 3\n    redeemBy: '2027-12-31T23:59:59Z'\n"),
    );
    expectIssue(text, lineOf(text, "expiresAt: '2028"), /is after its coupon's redeemBy/);
  });

  it('refuses a code used twice regardless of case', () => {
    const text = edited(
      '    coupon: launch20\n',
      '    coupon: launch20\n  - code: launch20\n    coupon: launch20\n',
    );
    expectIssue(text, lineOf(text, '- code: launch20'), /code launch20 is used twice/);
  });
});

describe('seats in plans/plans.yaml (ADR 0024)', () => {
  it('reads per-seat pricing: included, maximum and a seat price per interval the plan sells', () => {
    const professional = loadPlanCatalog().plan('professional');
    expect(professional.seats).toEqual({
      included: 5,
      maximum: 100,
      prices: [
        {
          interval: 'month',
          amounts: { usd: 1200, eur: 1100 },
          lookupKey: 'price_professional_seat_monthly',
        },
        {
          interval: 'year',
          amounts: { usd: 12000, eur: 11000 },
          lookupKey: 'price_professional_seat_yearly',
        },
      ],
    });
    expect(loadPlanCatalog().plan('free').seats).toBeNull();
  });

  it('names the line of a plan sold yearly without a yearly seat price', () => {
    const text = edited(
      / {8}- interval: year\n {10}amounts: \{ usd: 8000, eur: 7000 \} # .*\n {10}lookupKey: price_starter_seat_yearly\n/,
      '',
    );
    expectIssue(
      text,
      lineOf(text, '    seats:', 'key: starter') + 3,
      /plan starter is sold yearly: add a yearly seat price/,
    );
  });

  it('refuses a maximum below included, and a seats limit that differs from seats.included', () => {
    const below = edited('      included: 3\n      maximum: 20', '      included: 3\n      maximum: 2');
    expectIssue(below, lineOf(below, 'maximum: 2'), /maximum \(2\) is below included \(3\)/);
    const differs = edited(/(key: starter[\s\S]*?- metric: seats\n {8})included: 3/, '$1included: 4');
    expectIssue(differs, lineOf(differs, 'included: 4'), /its seats limit must be included: 3/);
  });

  it('refuses a seat lookup key another price uses', () => {
    const text = edited('lookupKey: price_starter_seat_monthly', 'lookupKey: price_starter_monthly');
    expectIssue(
      text,
      lineOf(text, 'lookupKey: price_starter_monthly', 'amounts: { usd: 800, eur: 700 }'),
      /lookup key price_starter_monthly is used twice/,
    );
  });
});
