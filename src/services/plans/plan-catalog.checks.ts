import { z } from 'zod';
import { CREDITS_OVERAGE, METRIC_KEYS } from './plan.types';
import { type CheckedAddons, checkAddons } from './addon.checks';
import { checkAmountsPerCurrency } from './currency.checks';
import { type CheckedCreditPacks, checkCreditPacks } from './credit.checks';
import { checkPromotions } from './promotion.checks';
import { checkSeats, type SeatsEntry } from './seats.checks';

/**
 * Rules that span several entries of plans/plans.yaml, which a per-field schema cannot see. Each issue
 * carries the path of the offending entry, so the loader can name its line.
 */

type AddonEntry = CheckedAddons['addons'][number];

/** The parsed file as the checks see it (the schema's output, before `toCatalog`). */
interface CheckedFile {
  currencies: string[];
  metrics: Partial<Record<string, { kind: 'counter' | 'gauge' }>>;
  plans: Array<{
    key: string;
    prices: Array<{ interval: string; lookupKey: string; amounts: Record<string, number> }>;
    salesLed: boolean;
    productKey: string | null;
    features: Record<string, boolean>;
    limits: Array<{ metric: string; overLimit: 'block' | 'bill_overage'; included: number | 'unlimited' }>;
    seats: SeatsEntry | null;
    credits: { overLimit: 'block' | 'bill_overage' } | null;
  }>;
  meteredPrices: Array<{
    metric: string;
    meterEventName: string;
    aggregation: 'sum' | 'last';
    lookupKey: string;
    yearlyLookupKey: string;
    unitAmountsDecimal: Record<string, string>;
  }>;
  addons: Array<
    Omit<AddonEntry, 'prices'> & {
      prices: Array<AddonEntry['prices'][number] & { amounts: Record<string, number> }>;
    }
  >;
  coupons: Parameters<typeof checkPromotions>[0]['coupons'];
  promotionCodes: Parameters<typeof checkPromotions>[0]['promotionCodes'];
  creditPacks: CheckedCreditPacks['creditPacks'];
}

export const FREE_PLAN_KEY = 'free';

export function crossCheckCatalog(file: CheckedFile, ctx: z.RefinementCtx): void {
  const fail = (path: Array<string | number>, message: string) =>
    ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
  checkMetrics(file, fail);
  checkCurrencyList(file.currencies, fail);
  checkPlans(file, fail);
  checkLookupKeys(file, fail);
  checkMeteredPrices(file, fail);
  checkAddons(file, fail);
  file.addons.forEach((addon, index) => {
    for (const [priceIndex, price] of addon.prices.entries())
      checkAmountsPerCurrency(
        price.amounts,
        file.currencies,
        ['addons', index, 'prices', priceIndex, 'amounts'],
        fail,
      );
  });
  checkPromotions(file, fail);
  checkCreditPacks(file, fail);
}

type Fail = (path: Array<string | number>, message: string) => void;

/** Each currency once: a second `usd` would make "the base currency" and the `currency_options` ambiguous. */
function checkCurrencyList(currencies: readonly string[], fail: Fail): void {
  currencies.forEach((currency, index) => {
    if (currencies.indexOf(currency) !== index) fail(['currencies', index], `${currency} is listed twice`);
  });
}

function checkMetrics(file: CheckedFile, fail: Fail): void {
  for (const metric of METRIC_KEYS) {
    if (!file.metrics[metric])
      fail(['metrics'], `metric ${metric} is not declared: add it with its kind and unit`);
  }
}

type PlanEntry = CheckedFile['plans'][number];
/** The path of a field of the plan being checked. */
type At = (...rest: Array<string | number>) => Array<string | number>;

function checkPlans(file: CheckedFile, fail: Fail): void {
  const seenKeys = new Map<string, number>();
  const seenProducts = new Map<string, number>();
  const featureKeys = file.plans[0] ? Object.keys(file.plans[0].features).sort() : [];
  const meteredMetrics = new Set(file.meteredPrices.map((price) => price.metric));

  file.plans.forEach((plan, index) => {
    const at: At = (...rest) => ['plans', index, ...rest];
    const earlier = seenKeys.get(plan.key);
    if (earlier !== undefined) fail(at('key'), `plan key ${plan.key} is used twice (also plans[${earlier}])`);
    seenKeys.set(plan.key, index);
    if (plan.productKey) {
      const other = seenProducts.get(plan.productKey);
      if (other !== undefined)
        fail(at('productKey'), `productKey ${plan.productKey} is used twice (also plans[${other}])`);
      seenProducts.set(plan.productKey, index);
    }
    checkPriceIntervals(plan, file.currencies, at, fail);
    if (plan.key === FREE_PLAN_KEY) checkFreePlan(plan, at, fail);
    else checkPaidPlan(plan, at, fail);
    checkFeatures(plan, featureKeys, at, fail);
    checkLimits(plan, file, meteredMetrics, at, fail);
    if (plan.credits?.overLimit === 'bill_overage' && !meteredMetrics.has(CREDITS_OVERAGE))
      fail(
        at('credits', 'overLimit'),
        `bill_overage needs a metered price for ${CREDITS_OVERAGE} under meteredPrices`,
      );
    checkSeats(plan, at, fail);
  });

  if (!seenKeys.has(FREE_PLAN_KEY)) {
    fail(['plans'], 'a plan with key `free` is required: accounts without a subscription are on it');
  }
}

/** A second price for the same interval would make "the monthly price of starter" ambiguous. */
function checkPriceIntervals(plan: PlanEntry, currencies: readonly string[], at: At, fail: Fail): void {
  const intervals = new Set<string>();
  plan.prices.forEach((price, priceIndex) => {
    checkAmountsPerCurrency(price.amounts, currencies, at('prices', priceIndex, 'amounts'), fail);
    if (intervals.has(price.interval)) {
      fail(
        at('prices', priceIndex, 'interval'),
        `plan ${plan.key} has more than one ${price.interval}ly price`,
      );
    }
    intervals.add(price.interval);
  });
}

function checkFreePlan(plan: PlanEntry, at: At, fail: Fail): void {
  if (plan.prices.length > 0) fail(at('prices'), 'the free plan has no Stripe price: set `prices: []`');
  if (plan.salesLed) fail(at('salesLed'), 'the free plan cannot be sales-led');
  if (plan.productKey) fail(at('productKey'), 'the free plan has no Stripe product: set `productKey: null`');
  if (plan.credits?.overLimit === 'bill_overage')
    fail(at('credits', 'overLimit'), 'the free plan has no subscription to bill overage on: use block');
}

function checkPaidPlan(plan: PlanEntry, at: At, fail: Fail): void {
  if (!plan.productKey)
    fail(at('productKey'), `plan ${plan.key} needs a productKey: Stripe bills it through a product`);
  if (plan.salesLed && plan.prices.length > 0) {
    fail(
      at('prices'),
      `plan ${plan.key} is sales-led: it has no self-serve price (an admin sets a custom one)`,
    );
  }
  if (!plan.salesLed && plan.prices.length === 0) {
    fail(at('prices'), `plan ${plan.key} is self-serve but has no price: add one, or set salesLed: true`);
  }
}

/** Every plan lists the same features, so a misspelt feature key is an error instead of a silent `false`. */
function checkFeatures(plan: PlanEntry, featureKeys: string[], at: At, fail: Fail): void {
  const keys = Object.keys(plan.features).sort();
  if (keys.join(',') === featureKeys.join(',')) return;
  const missing = featureKeys.filter((key) => !keys.includes(key));
  const extra = keys.filter((key) => !featureKeys.includes(key));
  const parts = [
    missing.length ? `missing ${missing.join(', ')}` : '',
    extra.length ? `unknown ${extra.join(', ')}` : '',
  ].filter(Boolean);
  fail(at('features'), `plan ${plan.key} must list the same features as plans[0] (${parts.join('; ')})`);
}

function checkLimits(
  plan: PlanEntry,
  file: CheckedFile,
  meteredMetrics: ReadonlySet<string>,
  at: At,
  fail: Fail,
): void {
  const limited = new Set<string>();
  plan.limits.forEach((limit, limitIndex) => {
    if (!file.metrics[limit.metric]) {
      fail(at('limits', limitIndex, 'metric'), `metric ${limit.metric} is not declared under metrics`);
    }
    if (limited.has(limit.metric)) {
      fail(at('limits', limitIndex, 'metric'), `plan ${plan.key} limits ${limit.metric} twice`);
    }
    limited.add(limit.metric);
    if (limit.overLimit === 'bill_overage' && !meteredMetrics.has(limit.metric)) {
      fail(
        at('limits', limitIndex, 'overLimit'),
        `bill_overage needs a metered price for ${limit.metric} under meteredPrices`,
      );
    }
  });
  const unlimited = METRIC_KEYS.filter((metric) => !limited.has(metric));
  if (unlimited.length > 0) {
    fail(at('limits'), `plan ${plan.key} has no limit for ${unlimited.join(', ')} (use included: unlimited)`);
  }
}

function checkLookupKeys(file: CheckedFile, fail: Fail): void {
  // One lookup key names one Stripe price; two entries sharing it would fight over it on every sync.
  const seen = new Map<string, string>();
  const claim = (lookupKey: string, path: Array<string | number>, where: string) => {
    const other = seen.get(lookupKey);
    if (other) fail(path, `lookup key ${lookupKey} is used twice (also ${other})`);
    else seen.set(lookupKey, where);
  };
  file.plans.forEach((plan, index) => {
    plan.prices.forEach((price, priceIndex) => {
      claim(price.lookupKey, ['plans', index, 'prices', priceIndex, 'lookupKey'], `plan ${plan.key}`);
    });
    plan.seats?.prices.forEach((price, priceIndex) => {
      const path = ['plans', index, 'seats', 'prices', priceIndex, 'lookupKey'];
      claim(price.lookupKey, path, `the seats of plan ${plan.key}`);
    });
  });
  file.meteredPrices.forEach((price, index) => {
    claim(price.lookupKey, ['meteredPrices', index, 'lookupKey'], `the ${price.metric} metered price`);
    claim(
      price.yearlyLookupKey,
      ['meteredPrices', index, 'yearlyLookupKey'],
      `the ${price.metric} yearly metered price`,
    );
  });
}

function checkMeteredPrices(file: CheckedFile, fail: Fail): void {
  const metrics = new Set<string>();
  const events = new Set<string>();
  file.meteredPrices.forEach((price, index) => {
    const at = (field: string) => ['meteredPrices', index, field];
    const metric = price.metric === CREDITS_OVERAGE ? { kind: 'counter' } : file.metrics[price.metric];
    if (!metric) fail(at('metric'), `metric ${price.metric} is not declared under metrics`);
    checkAmountsPerCurrency(price.unitAmountsDecimal, file.currencies, at('unitAmountsDecimal'), fail);
    if (metrics.has(price.metric))
      fail(at('metric'), `metric ${price.metric} has more than one metered price`);
    metrics.add(price.metric);
    // Stripe allows one active meter per event name; two prices on one name would bill each other's usage.
    if (events.has(price.meterEventName))
      fail(at('meterEventName'), `meter event ${price.meterEventName} is used twice`);
    events.add(price.meterEventName);
    // The overage reporter sends each increase of a period's overage (counters: of the total, gauges: of the
    // peak) as a delta, so the period's overage is the sum of its events, whatever kind the metric is.
    if (metric && price.aggregation !== 'sum') {
      fail(
        at('aggregation'),
        `${price.metric}: overage is reported as increases, so its meter aggregates with sum`,
      );
    }
  });
}
