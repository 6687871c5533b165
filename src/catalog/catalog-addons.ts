import type Stripe from 'stripe';
import { ADDON_PRICE_METADATA } from '../services/stripe/metadata-keys';
import type { Addon } from '../services/plans/plan.types';
import { type DesiredPrice, syncPrice } from './catalog-prices';
import { type DesiredProduct, syncProduct } from './catalog-products';
import type { SyncReport } from './catalog-report';

export { ADDON_PRICE_METADATA };

/** Makes the add-on's product exist and match, then its price for each interval; returns the product id. */
export async function syncAddon(
  stripe: Stripe,
  products: readonly Stripe.Product[],
  existingPrices: ReadonlyMap<string, Stripe.Price>,
  addon: Addon,
  currencies: readonly string[],
  report: SyncReport,
): Promise<string> {
  const productId = await syncProduct(stripe, products, addonProduct(addon), report);
  for (const price of addon.prices) {
    const desired: DesiredPrice = {
      lookupKey: price.lookupKey,
      productId,
      currencies,
      interval: price.interval,
      amount: { kind: 'licensed', cents: price.amounts },
      nickname: `${addon.name} ${price.interval}ly`,
      metadata: { [ADDON_PRICE_METADATA]: addon.key },
    };
    await syncPrice(stripe, existingPrices.get(price.lookupKey), desired, report);
  }
  return productId;
}

/** Every lookup key the add-ons hold, for the one price listing the sync reads before writing. */
export function addonLookupKeys(addons: readonly Addon[]): string[] {
  return addons.flatMap((addon) => addon.prices.map((price) => price.lookupKey));
}

function addonProduct(addon: Addon): DesiredProduct {
  return {
    metadataKey: ADDON_PRICE_METADATA,
    metadataValue: addon.key,
    id: addon.productKey,
    name: `CODITECT ${addon.name}`,
    description: addon.description,
    unitLabel: null,
  };
}
