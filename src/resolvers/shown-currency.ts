import { BadUserInputError } from '../errors';
import type { RequestContext } from '../graphql/context';
import type { CustomerCurrency } from '../services/accounts/customer-currency';
import type { PlanCatalog } from '../services/plans/plan-catalog';

/** The `currency` argument of the public price reads (`plans`, `addons`, `creditPacks`). */
export const CURRENCY_ARGUMENT = {
  nullable: true,
  description:
    "ISO 4217 (usd, eur): the currency to show prices in; default the signed-in account's (Account.currency), else the base",
} as const;

/** A currency asked for, if the catalog sells in it (lower case); else BAD_USER_INPUT naming the ones it does. */
export function soldCurrency(catalog: PlanCatalog, currency: string): string {
  const code = currency.trim().toLowerCase();
  if (!catalog.sellsIn(code)) {
    throw new BadUserInputError(
      `Prices are in ${catalog.currencies.join(', ')}, not ${currency}`,
      'currency',
    );
  }
  return code;
}

/** The signed-in caller's account's currency (kept once chosen), else the catalog's base. */
export async function callerCurrency(
  catalog: PlanCatalog,
  currencies: CustomerCurrency,
  context: RequestContext,
): Promise<string> {
  if (context.caller.kind !== 'authenticated') return catalog.baseCurrency;
  const customer = await context.loaders.customerByAccount.load(context.caller.accountId);
  return currencies.of(customer);
}
