import type { CreditPack, CreditUnit, PlanCredits, RateCardModels } from './credit.types';

/**
 * CODITECT's plans, as declared in plans/plans.yaml (the only source of plan facts). Amounts are integer minor
 * units of each currency the catalog sells in.
 * `PlanCatalog` (plan-catalog.ts) loads and validates the file once at start-up.
 */

export type PlanInterval = 'month' | 'year';

/** The usage metrics a plan can limit. Counters add up per billing period; gauges hold a level. */
export type MetricKey = 'ai_requests' | 'storage_mb' | 'seats';
/**
 * Credits a model call needed beyond the balance, on a plan that bills them (`credits.overLimit: bill_overage`):
 * not a metric a client records (the credits ledger writes it), but billed through a metered price like one.
 */
export const CREDITS_OVERAGE = 'ai_credits';
/** What a metered price bills: a metric's overage, or credits beyond the balance. */
export type OverageKey = MetricKey | typeof CREDITS_OVERAGE;
/** Every metric, for code that must visit each (validation, entitlements). */
export const METRIC_KEYS = ['ai_requests', 'storage_mb', 'seats'] as const satisfies readonly MetricKey[];
export type MetricKind = 'counter' | 'gauge';

/** What happens past a limit: refuse (`block`), or allow and bill the overage through a metered price. */
export type OverLimitBehavior = 'block' | 'bill_overage';

/**
 * Integer minor units per currency (ISO 4217, lower case as Stripe uses it), one entry for every currency of the
 * catalog: `{ usd: 1900, eur: 1800 }`. One Stripe price carries them all (the base currency's `unit_amount` and a
 * `currency_options` entry for each other one), so a subscription in any of them names the same price.
 */
export type AmountsByCurrency = Readonly<Record<string, number>>;

export interface PlanPrice {
  interval: PlanInterval;
  /** What one period costs in each currency of the catalog. */
  amounts: AmountsByCurrency;
  /** The Stripe price's lookup key; moving it to a new price is how an amount changes. */
  lookupKey: string;
}

/**
 * A plan priced per seat (ADR 0024): `included` seats come with the plan's price, each seat beyond costs one of
 * `prices` (per interval the plan sells), up to `maximum` seats in all. Such a plan's `seats` limit is the number
 * of seats paid for (included + extra), not a fixed number.
 */
export interface SeatPricing {
  included: number;
  maximum: number;
  /** What one extra seat costs per interval: one per interval the plan sells. */
  prices: PlanPrice[];
}

/** The amount of a catalog price in `currency`; throws for a currency the catalog does not sell in. */
export function amountIn(amounts: AmountsByCurrency, currency: string): number {
  const amount = amounts[currency];
  if (amount === undefined) throw new Error(`the catalog has no ${currency} amount here`);
  return amount;
}

export interface UsageLimit {
  metric: MetricKey;
  /** Included per billing period (counters) or at any time (gauges); null = unlimited. */
  included: number | null;
  overLimit: OverLimitBehavior;
}

export interface Plan {
  key: string;
  name: string;
  description: string;
  /** Self-serve prices; empty for `free` (no Stripe price) and `enterprise` (sales-led, custom price). */
  prices: PlanPrice[];
  /** Sales-led: not offered to self-serve checkout or plan switching, but an admin may subscribe an account. */
  salesLed: boolean;
  trialDays: number;
  /** What happens when a trial started without a payment method ends. */
  trialEndWithoutPaymentMethod: 'cancel' | 'pause' | 'create_invoice';
  /** Boolean features by key. */
  features: Record<string, boolean>;
  limits: UsageLimit[];
  /** Per-seat pricing, or null for a plan whose seats are a fixed limit (free, enterprise). */
  seats: SeatPricing | null;
  /**
   * The id `npm run stripe:sync` gives this plan's Stripe product when it creates it, e.g.
   * `prod_coditect_starter`; null for a plan without a Stripe product (`free`). The sync finds the product by
   * `metadata.coditect_plan` (the plan key), so a product made by hand with another id is adopted, not doubled.
   */
  productKey: string | null;
  /** Credits included each billing period and what rolls over (issue 17); none included when the file is silent. */
  credits: PlanCredits;
}

/** A metered overage price, billed through a Stripe Billing Meter. */
export interface MeteredPrice {
  metric: OverageKey;
  /** The meter's event name, e.g. `coditect_ai_requests`. */
  meterEventName: string;
  /**
   * Stripe meters aggregate by sum, count or last. The overage reporter sends increases of a period's overage
   * (deltas), so the catalog checks refuse anything but `sum`; `last` stays in the type to name that error.
   */
  aggregation: 'sum' | 'last';
  /**
   * Price per unit in minor units of each currency, as a decimal string when below one cent is needed (Stripe's
   * `unit_amount_decimal`, also accepted in `currency_options`): `{ usd: '1', eur: '1' }`.
   */
  unitAmountsDecimal: Readonly<Record<string, string>>;
  /** The lookup key of the monthly metered price: what monthly subscriptions carry. */
  lookupKey: string;
  /** The lookup key of the yearly metered price: what yearly subscriptions carry (one interval per subscription). */
  yearlyLookupKey: string;
  productName: string;
}

/** The lookup key of a metered price for a subscription billed every `interval`. */
export function meteredLookupKey(price: MeteredPrice, interval: PlanInterval): string {
  return interval === 'year' ? price.yearlyLookupKey : price.lookupKey;
}

/**
 * A Stripe coupon as code: what comes off and for how long. Its money terms cannot change in Stripe once created
 * (https://docs.stripe.com/api/coupons/update: only name, metadata and currency_options), so changing them means
 * a new `id`.
 */
export interface Coupon {
  /** The coupon's Stripe id, chosen by us (Stripe accepts `id` on create), so the sync finds it again. */
  id: string;
  name: string;
  /** 1–100, or null for an amount-off coupon. */
  percentOff: number | null;
  /** Integer minor units per currency (every currency of the catalog), or null for a percent-off coupon. */
  amountsOff: Record<string, number> | null;
  duration: 'once' | 'repeating' | 'forever';
  /** Months a `repeating` coupon lasts from when it is applied; null otherwise. */
  durationInMonths: number | null;
  /** Plan keys it may discount (Stripe `applies_to.products`); empty = every plan. */
  plans: string[];
  /** After this, the coupon can no longer be redeemed (Stripe `redeem_by`). */
  redeemBy: Date | null;
  maxRedemptions: number | null;
}

/** A customer-facing promotion code over a coupon, with its own limits (Stripe PromotionCode). */
export interface PromotionCode {
  /** What the customer types; matched regardless of case. */
  code: string;
  /** The `id` of a coupon of the catalog. */
  coupon: string;
  active: boolean;
  expiresAt: Date | null;
  maxRedemptions: number | null;
  /** Only for customers who never paid (Stripe `restrictions.first_time_transaction`). */
  firstTimeOnly: boolean;
  /** The least first invoice (before discounts) per currency of the catalog, in minor units; null = no minimum. */
  minimumAmounts: Record<string, number> | null;
}

/** A price of an add-on for one billing interval (a subscription carries the add-on at its own interval). */
export type AddonPrice = PlanPrice;

/** An added allowance: each unit of the add-on adds `added` to the plan's limit of `metric`. */
export interface AddonLimitGrant {
  metric: MetricKey;
  added: number;
}

/**
 * A product sold beside the plan (ADR 0024), an item of the account's one subscription: its prices per interval,
 * the plans that may carry it, how many units one account may buy, and what each grants on top of the plan.
 */
export interface Addon {
  key: string;
  name: string;
  description: string;
  /** The id `npm run stripe:sync` gives its Stripe product; the sync finds it by `metadata.coditect_addon`. */
  productKey: string;
  prices: AddonPrice[];
  /** The plan keys that may carry it; a plan change to any other plan drops it. */
  plans: string[];
  /** The most units one subscription may carry; null: no quantity, exactly one. */
  quantity: { max: number } | null;
  grants: {
    /** Features it switches on (a feature is on if the plan or any add-on grants it). */
    features: Record<string, boolean>;
    limits: AddonLimitGrant[];
  };
}

export interface Catalog {
  /**
   * The currencies every price is sold in; the first is the base (each Stripe price's own `currency`, and what a
   * customer pays unless it chose another or its billing country picks one).
   */
  currencies: readonly string[];
  plans: Plan[];
  /** Products beside the plan, in the order customers see them. */
  addons: Addon[];
  meteredPrices: MeteredPrice[];
  metrics: Record<MetricKey, { kind: MetricKind; unit: string }>;
  coupons: Coupon[];
  promotionCodes: PromotionCode[];
  /** The unit packs sell and model calls burn. */
  credits: CreditUnit;
  /** The rate card: each model's prices in credits per million tokens, versioned by `effectiveFrom`. */
  models: RateCardModels;
  /** Credit packs, in the order customers see them. */
  creditPacks: CreditPack[];
}
