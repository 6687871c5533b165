import {
  type Addon,
  type Catalog,
  type Coupon,
  CREDITS_OVERAGE,
  type MeteredPrice,
  meteredLookupKey,
  type MetricKey,
  type MetricKind,
  type OverageKey,
  type Plan,
  type PlanInterval,
  type PlanPrice,
  type PromotionCode,
} from './plan.types';
import { FREE_PLAN_KEY } from './plan-catalog.checks';
import { UnknownPlanError } from './plan-catalog.errors';
import { readCatalogFile } from './plan-catalog.loader';
import type { CreditPack } from './credit.types';
import { RateCard } from './rate-card';

export { PlanCatalogError, UnknownPlanError } from './plan-catalog.errors';
export type { PlanCatalogIssue } from './plan-catalog.errors';

/** Where the catalog lives, relative to the working directory (the repository root for every command). */
export const DEFAULT_PLANS_FILE = 'plans/plans.yaml';

/**
 * CODITECT's plans as the services ask about them. Built once at start-up from a validated `Catalog`, so
 * every lookup here is a map read; the catalog never changes while the process runs.
 */
export class PlanCatalog {
  private readonly byKey: ReadonlyMap<string, Plan>;
  private readonly byLookupKey: ReadonlyMap<string, Plan>;
  private readonly meteredByMetric: ReadonlyMap<OverageKey, MeteredPrice>;
  private readonly addonsByKey: ReadonlyMap<string, Addon>;
  private readonly creditPacksByKey: ReadonlyMap<string, CreditPack>;
  /** The prices of model calls in credits (plans.yaml `models:`). */
  readonly rateCard: RateCard;

  constructor(readonly catalog: Catalog) {
    this.creditPacksByKey = new Map(catalog.creditPacks.map((pack) => [pack.key, pack]));
    this.rateCard = new RateCard(catalog.models);
    this.byKey = new Map(catalog.plans.map((plan) => [plan.key, plan]));
    this.byLookupKey = new Map(
      catalog.plans.flatMap((plan) => plan.prices.map((price) => [price.lookupKey, plan] as const)),
    );
    this.meteredByMetric = new Map(catalog.meteredPrices.map((price) => [price.metric, price]));
    this.addonsByKey = new Map(catalog.addons.map((addon) => [addon.key, addon]));
  }

  /** Every currency the catalog sells in (ISO 4217, lower case), the base first. */
  get currencies(): readonly string[] {
    return this.catalog.currencies;
  }

  /** The base currency: each Stripe price's own, and what a customer pays unless another was chosen. */
  get baseCurrency(): string {
    return this.catalog.currencies[0] as string;
  }

  /** Whether prices are sold in `currency` (lower case). */
  sellsIn(currency: string): boolean {
    return this.catalog.currencies.includes(currency);
  }

  /** The plan with this key; throws `UnknownPlanError` for any other key. */
  plan(key: string): Plan {
    const plan = this.byKey.get(key);
    if (!plan) throw new UnknownPlanError(key);
    return plan;
  }

  /** The plan with this key, or undefined: for input that may name a plan that does not exist. */
  find(key: string): Plan | undefined {
    return this.byKey.get(key);
  }

  /** Every plan, in the order of the file (the order customers see). */
  plans(): readonly Plan[] {
    return this.catalog.plans;
  }

  /** Plans a customer can buy alone, in Checkout or the Portal: not sales-led, with at least one price. */
  selfServePlans(): readonly Plan[] {
    return this.catalog.plans.filter((plan) => !plan.salesLed && plan.prices.length > 0);
  }

  /** The plan everyone without a live subscription is on. */
  freePlan(): Plan {
    return this.plan(FREE_PLAN_KEY);
  }

  /** The self-serve price of a plan for an interval, or undefined when it has none (free, enterprise). */
  priceFor(planKey: string, interval: PlanInterval): PlanPrice | undefined {
    return this.plan(planKey).prices.find((price) => price.interval === interval);
  }

  /**
   * The plan a Stripe price belongs to, by the price's lookup key. Undefined for a price the catalog does not
   * name: an enterprise custom price, or an old price whose lookup key moved to a new amount (the sync
   * writes `metadata.coditect_plan` on every price it creates, for those).
   */
  planForLookupKey(lookupKey: string): Plan | undefined {
    return this.byLookupKey.get(lookupKey);
  }

  /** The metered overage price of a metric, or undefined when the metric is never billed. */
  meteredPrice(metric: OverageKey): MeteredPrice | undefined {
    return this.meteredByMetric.get(metric);
  }

  meteredPrices(): readonly MeteredPrice[] {
    return this.catalog.meteredPrices;
  }

  /**
   * The metered prices a subscription to `planKey` carries: one per metric the plan bills as overage
   * (`overLimit: bill_overage`), in the order of the plan's limits. Empty for a plan that bills none (free,
   * enterprise).
   */
  overagePrices(planKey: string): MeteredPrice[] {
    const plan = this.plan(planKey);
    const metrics = plan.limits.flatMap((limit) => {
      const metered = limit.overLimit === 'bill_overage' ? this.meteredByMetric.get(limit.metric) : undefined;
      return metered ? [metered] : [];
    });
    const credits =
      plan.credits.overLimit === 'bill_overage' ? this.meteredByMetric.get(CREDITS_OVERAGE) : undefined;
    return credits ? [...metrics, credits] : metrics;
  }

  /** The lookup keys of `overagePrices(planKey)` for a subscription billed every `interval`. */
  overageLookupKeys(planKey: string, interval: PlanInterval): string[] {
    return this.overagePrices(planKey).map((price) => meteredLookupKey(price, interval));
  }

  /** Every add-on, in the order of the file (the order customers see). */
  addons(): readonly Addon[] {
    return this.catalog.addons;
  }

  /** The add-on with this key, or undefined: for input that may name one that does not exist. */
  findAddon(key: string): Addon | undefined {
    return this.addonsByKey.get(key);
  }

  /** The add-ons a subscription to `planKey` may carry. */
  addonsFor(planKey: string): Addon[] {
    return this.catalog.addons.filter((addon) => addon.plans.includes(planKey));
  }

  /** The coupons of the file, in its order (synced to Stripe with their own ids). */
  coupons(): readonly Coupon[] {
    return this.catalog.coupons;
  }

  /** The promotion codes of the file, in its order. */
  promotionCodes(): readonly PromotionCode[] {
    return this.catalog.promotionCodes;
  }

  /** The plan whose Stripe product this is (`productKey`), or undefined. */
  planForProduct(productId: string): Plan | undefined {
    return this.catalog.plans.find((plan) => plan.productKey === productId);
  }

  /** What one credit is called (`credits: { unit: credit }`). */
  get creditUnit(): string {
    return this.catalog.credits.unit;
  }

  /** Every credit pack, in the order of the file (the order customers see). */
  creditPacks(): readonly CreditPack[] {
    return this.catalog.creditPacks;
  }

  /** The credit pack with this key, or undefined: for input that may name one that does not exist. */
  findCreditPack(key: string): CreditPack | undefined {
    return this.creditPacksByKey.get(key);
  }

  /** How a metric behaves (counter or gauge) and its unit. */
  metric(key: MetricKey): { kind: MetricKind; unit: string } {
    return this.catalog.metrics[key];
  }

  /** The unit a metered price bills: a metric's, or the credit for credits beyond the balance. */
  overageUnit(key: OverageKey): string {
    return key === CREDITS_OVERAGE ? this.creditUnit : this.metric(key).unit;
  }
}

/**
 * Loads and validates the catalog: call once at start-up. A bad file throws `PlanCatalogError` whose message
 * names the line and the reason, which stops start-up before anything is served.
 */
export function loadPlanCatalog(path: string = DEFAULT_PLANS_FILE): PlanCatalog {
  return new PlanCatalog(readCatalogFile(path));
}
