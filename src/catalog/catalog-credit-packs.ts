import type Stripe from 'stripe';
import { CREDIT_PACK_METADATA } from '../services/stripe/metadata-keys';
import { creditPackProductId } from '../services/plans/credit.checks';
import type { CreditPack } from '../services/plans/credit.types';
import { syncPrice } from './catalog-prices';
import { type DesiredProduct, syncProduct } from './catalog-products';
import type { SyncReport } from './catalog-report';

/**
 * Makes a credit pack's product exist and match, then its ONE-TIME price (no `recurring`: a pack is bought, not
 * subscribed to) with an amount per currency; returns the price id. A changed amount makes a new price and moves
 * the lookup key to it, as for plan prices (`syncPrice`). https://docs.stripe.com/api/prices/create: "The Price can
 * be recurring or one-time"; without `recurring` its `type` is `one_time`.
 */
export async function syncCreditPack(
  stripe: Stripe,
  products: readonly Stripe.Product[],
  existingPrices: ReadonlyMap<string, Stripe.Price>,
  pack: CreditPack,
  currencies: readonly string[],
  report: SyncReport,
): Promise<string> {
  const productId = await syncProduct(stripe, products, creditPackProduct(pack), report);
  return syncPrice(
    stripe,
    existingPrices.get(pack.lookupKey),
    {
      lookupKey: pack.lookupKey,
      productId,
      currencies,
      interval: 'once',
      amount: { kind: 'licensed', cents: pack.amounts },
      nickname: pack.name,
      metadata: { [CREDIT_PACK_METADATA]: pack.key },
    },
    report,
  );
}

/** Every lookup key the packs hold, for the one price listing the sync reads before writing. */
export function creditPackLookupKeys(packs: readonly CreditPack[]): string[] {
  return packs.map((pack) => pack.lookupKey);
}

function creditPackProduct(pack: CreditPack): DesiredProduct {
  const expiry = pack.expiresAfterDays
    ? `, valid for ${pack.expiresAfterDays} days after purchase`
    : ' that never expire';
  return {
    metadataKey: CREDIT_PACK_METADATA,
    metadataValue: pack.key,
    id: creditPackProductId(pack.key),
    name: `CODITECT ${pack.name}`,
    description: `${pack.credits} prepaid credits for AI model calls${expiry}.`,
    unitLabel: null,
  };
}
