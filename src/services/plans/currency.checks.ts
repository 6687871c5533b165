/** The check every amount of plans/plans.yaml shares: one amount per currency of the catalog. */

type Fail = (path: Array<string | number>, message: string) => void;

/**
 * An amount for every currency of the file, and for no other: a customer paying in EUR must find every price in
 * EUR (Stripe refuses a subscription whose price lacks the subscription's currency), and an amount in a currency
 * the file does not list would never be synced.
 */
export function checkAmountsPerCurrency(
  amounts: Record<string, unknown>,
  currencies: readonly string[],
  path: Array<string | number>,
  fail: Fail,
): void {
  const missing = currencies.filter((currency) => amounts[currency] === undefined);
  if (missing.length > 0)
    fail(path, `needs an amount in ${missing.join(', ')} (every currency of currencies:)`);
  for (const other of Object.keys(amounts)) {
    if (!currencies.includes(other))
      fail([...path, other], `${other} is not one of the catalog's currencies (${currencies.join(', ')})`);
  }
}
