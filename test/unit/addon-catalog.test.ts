import { entitlementsOf } from '../../src/services/plans/plan-entitlements';
import { loadPlanCatalog, PlanCatalogError } from '../../src/services/plans/plan-catalog';
import { edited, lineOf, writeVariant } from '../support/plans-file';

/** `addons:` in plans/plans.yaml (ADR 0024): what the file says, and each refusal named at its line. */

function expectIssue(text: string, line: number, reason: RegExp): void {
  const path = writeVariant(text);
  let error: unknown;
  try {
    loadPlanCatalog(path);
  } catch (thrown) {
    error = thrown;
  }
  expect(error).toBeInstanceOf(PlanCatalogError);
  const issues = (error as PlanCatalogError).issues;
  const issue = issues.find((candidate) => reason.test(`${candidate.path}: ${candidate.reason}`));
  expect({ issues, found: issue !== undefined }).toMatchObject({ found: true });
  expect(issue?.line).toBe(line);
}

describe('add-ons in plans/plans.yaml', () => {
  const catalog = loadPlanCatalog();

  it('reads extra storage and priority support with their prices, plans, quantities and grants', () => {
    expect(catalog.addons().map((addon) => addon.key)).toEqual(['extra_storage_10gb', 'priority_support']);
    expect(catalog.findAddon('extra_storage_10gb')).toMatchObject({
      name: 'Extra storage 10 GB',
      productKey: 'prod_coditect_extra_storage_10gb',
      prices: [
        {
          interval: 'month',
          amounts: { usd: 500, eur: 500 },
          lookupKey: 'price_extra_storage_10gb_monthly',
        },
        { interval: 'year', amounts: { usd: 5000, eur: 5000 }, lookupKey: 'price_extra_storage_10gb_yearly' },
      ],
      plans: ['starter', 'professional'],
      quantity: { max: 10 },
      grants: { features: {}, limits: [{ metric: 'storage_mb', added: 10240 }] },
    });
    expect(catalog.findAddon('priority_support')).toMatchObject({
      prices: [
        { interval: 'month', amounts: { usd: 2900, eur: 2700 } },
        { interval: 'year', amounts: { usd: 29000, eur: 27000 } },
      ],
      plans: ['starter'],
      quantity: null,
      grants: { features: { priority_support: true }, limits: [] },
    });
    expect(catalog.addonsFor('professional').map((addon) => addon.key)).toEqual(['extra_storage_10gb']);
  });

  it('adds the grants to the plan: a feature on if any grants it, an allowance plus added × quantity', () => {
    const starter = catalog.plan('starter');
    const storage = catalog.findAddon('extra_storage_10gb');
    const support = catalog.findAddon('priority_support');
    if (!storage || !support) throw new Error('the add-ons are missing');
    const rows = entitlementsOf(starter, [
      { addon: storage, quantity: 3 },
      { addon: support, quantity: 1 },
    ]);
    expect(rows.find((row) => row.featureKey === 'storage_mb')).toEqual({
      featureKey: 'storage_mb',
      enabled: true,
      limit: 1024 + 3 * 10_240,
    });
    expect(rows.find((row) => row.featureKey === 'priority_support')?.enabled).toBe(true);
    expect(rows.find((row) => row.featureKey === 'sso')?.enabled).toBe(false);
    // An unlimited allowance stays unlimited.
    const unlimited = entitlementsOf(catalog.plan('enterprise'), [{ addon: storage, quantity: 2 }]);
    expect(unlimited.find((row) => row.featureKey === 'storage_mb')?.limit).toBeNull();
  });

  it('names the line of an unknown plan, and of a plan without a self-serve price', () => {
    const unknown = edited('    plans: [starter]\n', '    plans: [platinum]\n');
    expectIssue(unknown, lineOf(unknown, 'plans: [platinum]'), /plan platinum is not declared/);
    const enterprise = edited('    plans: [starter]\n', '    plans: [enterprise]\n');
    expectIssue(enterprise, lineOf(enterprise, 'plans: [enterprise]'), /enterprise has no self-serve price/);
  });

  it('names the line of an unknown feature or metric', () => {
    const feature = edited('        priority_support: true\n', '        priority_suport: true\n');
    expectIssue(feature, lineOf(feature, 'priority_suport'), /feature priority_suport is not a feature/);
    const metric = edited(
      '        - metric: storage_mb\n          added',
      '        - metric: disk_mb\n          added',
    );
    expectIssue(metric, lineOf(metric, 'metric: disk_mb'), /metric/);
  });

  it('names the line of a key used twice, and of a lookup key another price holds', () => {
    const twice = edited('  - key: priority_support', '  - key: extra_storage_10gb');
    // The second entry is the one refused.
    const second = twice.split('\n').lastIndexOf('  - key: extra_storage_10gb') + 1;
    expectIssue(twice, second, /add-on key extra_storage_10gb is used twice/);
    const lookup = edited('lookupKey: price_priority_support_monthly', 'lookupKey: price_starter_monthly');
    // Named at the add-on's price (the plan's came first).
    const taken = lookup.split('\n').findLastIndex((line) => line.includes('price_starter_monthly')) + 1;
    expectIssue(lookup, taken, /lookup key price_starter_monthly is used twice/);
  });

  it('needs a price for every interval its plans are sold at, one per interval', () => {
    const noYear = edited(
      `      - interval: year
        amounts: { usd: 29000, eur: 27000 } # $290.00 or €270.00 a year
        lookupKey: price_priority_support_yearly
`,
      '',
    );
    expectIssue(noYear, lineOf(noYear, 'price_priority_support_monthly') - 3, /needs a yearly price/);
    const cents = edited('usd: 500, eur: 500 }', 'usd: 5.5, eur: 500 }');
    expectIssue(cents, lineOf(cents, 'usd: 5.5'), /whole cents/);
    const noEuro = edited('usd: 2900, eur: 2700 }', 'usd: 2900 }');
    expectIssue(noEuro, lineOf(noEuro, 'usd: 2900 }'), /needs an amount in eur/);
  });
});
