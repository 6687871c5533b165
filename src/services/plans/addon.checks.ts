/**
 * Cross-checks of `addons:` in plans/plans.yaml: what one entry's schema cannot see (the plans and features it
 * names, the metrics it adds to, lookup keys and products shared with plans). Each issue carries the entry's path,
 * so the loader names its line.
 */

import type { Addon, Plan } from './plan.types';

type Fail = (path: Array<string | number>, message: string) => void;

/** What the checks read of the file (as the catalog's types name them). */
export interface CheckedAddons {
  metrics: Partial<Record<string, unknown>>;
  plans: Array<
    Pick<Plan, 'key' | 'productKey' | 'features' | 'salesLed'> & {
      prices: Array<{ interval: string; lookupKey: string }>;
    }
  >;
  meteredPrices: Array<{ lookupKey: string; yearlyLookupKey: string }>;
  addons: Array<
    Pick<Addon, 'key' | 'productKey' | 'plans' | 'grants'> & {
      prices: Array<{ interval: string; lookupKey: string }>;
    }
  >;
}

export function checkAddons(file: CheckedAddons, fail: Fail): void {
  const keys = new Set<string>();
  const lookupKeys = takenLookupKeys(file);
  const products = new Set(file.plans.flatMap((plan) => (plan.productKey ? [plan.productKey] : [])));
  const featureKeys = new Set(Object.keys(file.plans[0]?.features ?? {}));
  file.addons.forEach((addon, index) => {
    const at = (...rest: Array<string | number>) => ['addons', index, ...rest];
    if (keys.has(addon.key)) fail(at('key'), `add-on key ${addon.key} is used twice`);
    keys.add(addon.key);
    if (products.has(addon.productKey))
      fail(at('productKey'), `productKey ${addon.productKey} is used twice`);
    products.add(addon.productKey);
    addon.prices.forEach((price, priceIndex) => {
      if (lookupKeys.has(price.lookupKey))
        fail(at('prices', priceIndex, 'lookupKey'), `lookup key ${price.lookupKey} is used twice`);
      lookupKeys.add(price.lookupKey);
    });
    checkAddonPlans(addon, file.plans, at, fail);
    checkGrants(addon, featureKeys, file.metrics, at, fail);
  });
}

type At = (...rest: Array<string | number>) => Array<string | number>;
type AddonEntry = CheckedAddons['addons'][number];

function takenLookupKeys(file: CheckedAddons): Set<string> {
  return new Set([
    ...file.plans.flatMap((plan) => plan.prices.map((price) => price.lookupKey)),
    ...file.meteredPrices.flatMap((price) => [price.lookupKey, price.yearlyLookupKey]),
  ]);
}

/**
 * Each plan named exists and is self-serve, and the add-on has a price for every interval such a plan is sold at:
 * Stripe bills a subscription's items on one schedule, so a yearly subscription needs the add-on's yearly price.
 */
function checkAddonPlans(addon: AddonEntry, plans: CheckedAddons['plans'], at: At, fail: Fail): void {
  const intervals = new Set<string>();
  addon.prices.forEach((price, priceIndex) => {
    if (intervals.has(price.interval))
      fail(
        at('prices', priceIndex, 'interval'),
        `add-on ${addon.key} has more than one ${price.interval}ly price`,
      );
    intervals.add(price.interval);
  });
  const seen = new Set<string>();
  addon.plans.forEach((planKey, planIndex) => {
    const plan = plans.find((candidate) => candidate.key === planKey);
    if (seen.has(planKey)) fail(at('plans', planIndex), `plan ${planKey} is listed twice`);
    seen.add(planKey);
    if (!plan) {
      fail(at('plans', planIndex), `plan ${planKey} is not declared under plans`);
      return;
    }
    if (plan.salesLed || plan.prices.length === 0) {
      fail(at('plans', planIndex), `plan ${planKey} has no self-serve price, so no subscription to add to`);
      return;
    }
    const missing = plan.prices
      .filter((price) => !intervals.has(price.interval))
      .map((price) => price.interval);
    if (missing.length > 0) {
      fail(
        at('prices'),
        `add-on ${addon.key} needs a ${missing.join(' and ')}ly price: plan ${planKey} is sold so`,
      );
    }
  });
}

function checkGrants(
  addon: AddonEntry,
  featureKeys: ReadonlySet<string>,
  metrics: CheckedAddons['metrics'],
  at: At,
  fail: Fail,
): void {
  for (const feature of Object.keys(addon.grants.features)) {
    if (!featureKeys.has(feature))
      fail(at('grants', 'features', feature), `feature ${feature} is not a feature of the plans`);
  }
  const metricsSeen = new Set<string>();
  addon.grants.limits.forEach((limit, limitIndex) => {
    const path = at('grants', 'limits', limitIndex, 'metric');
    if (!metrics[limit.metric]) fail(path, `metric ${limit.metric} is not declared under metrics`);
    if (metricsSeen.has(limit.metric)) fail(path, `add-on ${addon.key} adds to ${limit.metric} twice`);
    metricsSeen.add(limit.metric);
  });
  if (Object.keys(addon.grants.features).length === 0 && addon.grants.limits.length === 0) {
    fail(at('grants'), `add-on ${addon.key} grants nothing: add a feature or a limit`);
  }
}
