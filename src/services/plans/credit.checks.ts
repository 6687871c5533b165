/**
 * Cross-checks of `creditPacks:` in plans/plans.yaml: what one pack's schema cannot see (keys and lookup keys
 * shared with other entries, amounts in every currency). Each issue carries the pack's path, so the loader names
 * its line.
 */

import { checkAmountsPerCurrency } from './currency.checks';

type Fail = (path: Array<string | number>, message: string) => void;

/** What the checks read of the file. */
export interface CheckedCreditPacks {
  currencies: string[];
  plans: Array<{
    productKey: string | null;
    prices: Array<{ lookupKey: string }>;
    seats: { prices: Array<{ lookupKey: string }> } | null;
  }>;
  meteredPrices: Array<{ lookupKey: string; yearlyLookupKey: string }>;
  addons: Array<{ productKey: string; prices: Array<{ lookupKey: string }> }>;
  creditPacks: Array<{ key: string; lookupKey: string; amounts: Record<string, number> }>;
}

/** The Stripe product id `npm run stripe:sync` gives a pack's product: readable in the Dashboard. */
export function creditPackProductId(packKey: string): string {
  return `prod_coditect_${packKey}`;
}

export function checkCreditPacks(file: CheckedCreditPacks, fail: Fail): void {
  const lookupKeys = otherLookupKeys(file);
  const products = new Set([
    ...file.plans.flatMap((plan) => (plan.productKey ? [plan.productKey] : [])),
    ...file.addons.map((addon) => addon.productKey),
  ]);
  const keys = new Set<string>();
  file.creditPacks.forEach((pack, index) => {
    const at = (...rest: Array<string | number>) => ['creditPacks', index, ...rest];
    if (keys.has(pack.key)) fail(at('key'), `credit pack key ${pack.key} is used twice`);
    keys.add(pack.key);
    if (products.has(creditPackProductId(pack.key)))
      fail(at('key'), `its Stripe product ${creditPackProductId(pack.key)} is a plan's or an add-on's`);
    // One lookup key names one Stripe price; two entries sharing it would fight over it on every sync.
    if (lookupKeys.has(pack.lookupKey)) fail(at('lookupKey'), `lookup key ${pack.lookupKey} is used twice`);
    lookupKeys.add(pack.lookupKey);
    checkAmountsPerCurrency(pack.amounts, file.currencies, at('amounts'), fail);
  });
}

function otherLookupKeys(file: CheckedCreditPacks): Set<string> {
  return new Set([
    ...file.plans.flatMap((plan) => [
      ...plan.prices.map((price) => price.lookupKey),
      ...(plan.seats?.prices ?? []).map((price) => price.lookupKey),
    ]),
    ...file.meteredPrices.flatMap((price) => [price.lookupKey, price.yearlyLookupKey]),
    ...file.addons.flatMap((addon) => addon.prices.map((price) => price.lookupKey)),
  ]);
}
