import type { EntityManager } from '@mikro-orm/postgresql';
import type { BillingCustomer } from '../../entities';
import { BadUserInputError } from '../../errors';
import type { CustomerCurrency } from '../accounts/customer-currency';
import type { PlanCatalog } from '../plans/plan-catalog';
import type { CreditPack } from '../plans/credit.types';
import type { PriceDirectory } from '../stripe/price-directory';

/**
 * The metadata every pack purchase carries on its Stripe invoice (and, through Checkout, on its payment intent):
 * the account, the pack and its credits as they were when it was sold. `invoice.paid` grants from it.
 */
export const PACK_METADATA = {
  accountId: 'coditect_account_id',
  packKey: 'coditect_credit_pack',
  credits: 'coditect_credits',
} as const;

/** One pack, sold to one account, in the currency the account pays in. */
export interface PackSale {
  pack: CreditPack;
  /** ISO 4217, lower case: the account's kept currency. */
  currency: string;
  /** What the pack costs in `currency`, in minor units (before tax). */
  amount: number;
  /** The pack's one-time Stripe price. */
  priceId: string;
  metadata: Record<string, string>;
}

/**
 * What selling `packKey` to this account means: the pack (BAD_USER_INPUT when the catalog has none), the account's
 * currency (kept from its first purchase or subscription on, docs/billing-rules.md rows 53–54) and the pack's price in
 * it (BAD_USER_INPUT when the pack is not sold in it). The currency is kept on the account before anything is sold.
 */
export async function packSaleOf(
  em: EntityManager,
  parts: { catalog: PlanCatalog; currencies: CustomerCurrency; prices: PriceDirectory },
  customer: BillingCustomer,
  packKey: string,
): Promise<PackSale> {
  const pack = parts.catalog.findCreditPack(packKey);
  if (!pack) {
    const known = parts.catalog.creditPacks().map((candidate) => candidate.key);
    throw new BadUserInputError(`Unknown credit pack ${packKey} (known: ${known.join(', ')})`, 'packKey');
  }
  const currency = parts.currencies.choose(customer, null);
  const amount = pack.amounts[currency];
  if (amount === undefined)
    throw new BadUserInputError(`The pack ${pack.key} is not sold in ${currency.toUpperCase()}`, 'packKey');
  await parts.currencies.keep(em, customer, currency);
  return {
    pack,
    currency,
    amount,
    priceId: await parts.prices.priceId(pack.lookupKey),
    metadata: {
      [PACK_METADATA.accountId]: customer.accountId,
      [PACK_METADATA.packKey]: pack.key,
      [PACK_METADATA.credits]: String(pack.credits),
    },
  };
}

/** The pack an invoice sold, from its metadata; null for any other invoice (a subscription's, an admin's). */
export interface PackInvoice {
  accountId: string;
  packKey: string;
  credits: number;
}

export function packInvoiceOf(metadata: Record<string, string> | null | undefined): PackInvoice | null {
  const packKey = metadata?.[PACK_METADATA.packKey];
  if (!packKey) return null;
  const credits = Number(metadata?.[PACK_METADATA.credits]);
  const accountId = metadata?.[PACK_METADATA.accountId] ?? '';
  if (!Number.isSafeInteger(credits) || credits < 1 || !accountId) return null;
  return { accountId, packKey, credits };
}
