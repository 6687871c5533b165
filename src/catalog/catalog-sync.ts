import type Stripe from 'stripe';
import type { PlanCatalog } from '../services/plans/plan-catalog';
import { type MeteredPrice, meteredLookupKey, type Plan } from '../services/plans/plan.types';
import { addonLookupKeys, syncAddon } from './catalog-addons';
import { syncCoupon } from './catalog-coupons';
import { creditPackLookupKeys, syncCreditPack } from './catalog-credit-packs';
import { listAllMeters, syncMeter } from './catalog-meters';
import { type PortalProduct, syncPortalConfiguration } from './catalog-portal';
import { type DesiredPrice, pricesByLookupKey, syncPrice } from './catalog-prices';
import { type DesiredProduct, listAllProducts, syncProduct } from './catalog-products';
import { syncPromotionCode } from './catalog-promotion-codes';
import { SyncReport } from './catalog-report';
import { PLAN_PRICE_METADATA, SEATS_PRICE_METADATA } from '../services/stripe/metadata-keys';

export { SyncReport } from './catalog-report';
export type { SyncAction, SyncLine } from './catalog-report';

/** Product metadata keys that tie a Stripe product to the catalog entry it sells. */
export const PLAN_PRODUCT_METADATA = PLAN_PRICE_METADATA;
export const METRIC_PRODUCT_METADATA = 'coditect_metric';
/** The seats of a per-seat plan are a product of their own (ADR 0024, "Built: seats" says why). */
export const SEATS_PRODUCT_METADATA = SEATS_PRICE_METADATA;

/**
 * Makes Stripe match plans/plans.yaml (`npm run stripe:sync`): products, prices by lookup key, Billing Meters
 * with their metered prices, and the Customer Portal configuration. Idempotent: it reads first and only
 * writes what differs, so a second run reports everything unchanged; every write carries an idempotency key
 * derived from what it does, so a retried run never creates anything twice.
 *
 * Runs in dependency order (products → prices (plans, then their seats) → meters → add-ons → credit packs →
 * portal → coupons → promotion codes) because each step needs ids from the one
 * before. It stops at the first Stripe error; running it again resumes, since finished steps are unchanged.
 */
export async function syncCatalog(stripe: Stripe, catalog: PlanCatalog): Promise<SyncReport> {
  const report = new SyncReport();
  const products = await listAllProducts(stripe);
  const existingPrices = await pricesByLookupKey(stripe, allLookupKeys(catalog));

  // Paid plans, self-serve or sales-led: an enterprise custom price needs its plan's product to hang on.
  const portalProducts: PortalProduct[] = [];
  const planProducts = new Map<string, string>();
  for (const plan of catalog.plans()) {
    if (!plan.productKey) continue;
    const productId = await syncProduct(stripe, products, planProduct(plan), report);
    planProducts.set(plan.key, productId);
    const priceIds: string[] = [];
    for (const price of plan.prices) {
      const desired: DesiredPrice = {
        lookupKey: price.lookupKey,
        productId,
        currencies: catalog.currencies,
        interval: price.interval,
        amount: { kind: 'licensed', cents: price.amounts },
        nickname: `${plan.name} ${price.interval}ly`,
        metadata: { [PLAN_PRODUCT_METADATA]: plan.key },
      };
      priceIds.push(await syncPrice(stripe, existingPrices.get(price.lookupKey), desired, report));
    }
    if (!plan.salesLed && priceIds.length > 0) portalProducts.push({ product: productId, prices: priceIds });
    await syncSeatPrices(stripe, plan, catalog.currencies, products, existingPrices, report);
  }

  const meters = catalog.meteredPrices().length > 0 ? await listAllMeters(stripe) : [];
  for (const metered of catalog.meteredPrices()) {
    const productId = await syncProduct(stripe, products, meteredProduct(metered, catalog), report);
    const meterId = await syncMeter(stripe, meters, metered, report);
    // Stripe bills a subscription's items on one schedule, so monthly and yearly subscriptions each carry a
    // metered price of their own interval (on the same meter); both bill the usage of the period they close.
    for (const interval of ['month', 'year'] as const) {
      const lookupKey = meteredLookupKey(metered, interval);
      const desired: DesiredPrice = {
        lookupKey,
        productId,
        currencies: catalog.currencies,
        interval,
        amount: { kind: 'metered', unitAmountsDecimal: metered.unitAmountsDecimal, meterId },
        nickname: interval === 'month' ? metered.productName : `${metered.productName}, yearly`,
        metadata: { [METRIC_PRODUCT_METADATA]: metered.metric },
      };
      await syncPrice(stripe, existingPrices.get(lookupKey), desired, report);
    }
  }

  // Add-ons stay out of the Portal: it changes the plan item only, and add-ons are bought on the billing page.
  for (const addon of catalog.addons()) {
    await syncAddon(stripe, products, existingPrices, addon, catalog.currencies, report);
  }

  // Packs are one-time prices: Checkout in payment mode and off-session charges sell them, never the Portal.
  for (const pack of catalog.creditPacks()) {
    await syncCreditPack(stripe, products, existingPrices, pack, catalog.currencies, report);
  }

  await syncPortalConfiguration(stripe, portalProducts, report);
  await syncPromotions(stripe, catalog, planProducts, report);
  return report;
}

/** Coupons (their plan restriction as the plans' product ids), then the promotion codes over them. */
async function syncPromotions(
  stripe: Stripe,
  catalog: PlanCatalog,
  planProducts: ReadonlyMap<string, string>,
  report: SyncReport,
): Promise<void> {
  for (const coupon of catalog.coupons()) {
    const productIds = coupon.plans.flatMap((planKey) => planProducts.get(planKey) ?? []);
    await syncCoupon(stripe, coupon, productIds, catalog.currencies, report);
  }
  for (const promotionCode of catalog.promotionCodes()) {
    await syncPromotionCode(stripe, promotionCode, catalog.currencies, report);
  }
}

/**
 * A per-seat plan's extra-seat prices, on a product of their own (`CODITECT Professional seats`, unit `seat`):
 * invoices then name the line "seats", the Customer Portal's plan switcher (which lists the plans' products)
 * never offers a seat price as a plan, and a coupon restricted to the plans' products discounts the plan only.
 */
async function syncSeatPrices(
  stripe: Stripe,
  plan: Plan,
  currencies: readonly string[],
  products: readonly Stripe.Product[],
  existingPrices: ReadonlyMap<string, Stripe.Price>,
  report: SyncReport,
): Promise<void> {
  if (!plan.seats || !plan.productKey) return;
  const productId = await syncProduct(stripe, products, seatsProduct(plan, plan.productKey), report);
  for (const price of plan.seats.prices) {
    const desired: DesiredPrice = {
      lookupKey: price.lookupKey,
      productId,
      currencies,
      interval: price.interval,
      amount: { kind: 'licensed', cents: price.amounts },
      nickname: `${plan.name} seat, ${price.interval}ly`,
      metadata: { [SEATS_PRICE_METADATA]: plan.key },
    };
    await syncPrice(stripe, existingPrices.get(price.lookupKey), desired, report);
  }
}

function seatsProduct(plan: Plan, planProductKey: string): DesiredProduct {
  return {
    metadataKey: SEATS_PRODUCT_METADATA,
    metadataValue: plan.key,
    id: `${planProductKey}_seats`,
    name: `CODITECT ${plan.name} seats`,
    description: `Seats beyond the ${plan.seats?.included ?? 0} the ${plan.name} plan includes.`,
    unitLabel: 'seat',
  };
}

function allLookupKeys(catalog: PlanCatalog): string[] {
  return [
    ...catalog.plans().flatMap((plan) => plan.prices.map((price) => price.lookupKey)),
    ...catalog.plans().flatMap((plan) => (plan.seats?.prices ?? []).map((price) => price.lookupKey)),
    ...catalog.meteredPrices().flatMap((price) => [price.lookupKey, price.yearlyLookupKey]),
    ...addonLookupKeys(catalog.addons()),
    ...creditPackLookupKeys(catalog.creditPacks()),
  ];
}

function planProduct(plan: Plan): DesiredProduct {
  return {
    metadataKey: PLAN_PRODUCT_METADATA,
    metadataValue: plan.key,
    id: plan.productKey,
    name: `CODITECT ${plan.name}`,
    description: plan.description,
    unitLabel: null,
  };
}

function meteredProduct(price: MeteredPrice, catalog: PlanCatalog): DesiredProduct {
  const unit = catalog.overageUnit(price.metric);
  return {
    metadataKey: METRIC_PRODUCT_METADATA,
    metadataValue: price.metric,
    id: null,
    name: price.productName,
    description: `Usage beyond a plan's allowance, billed per ${unit} at the end of each billing period.`,
    unitLabel: unit,
  };
}
