import { z } from 'zod';
import { type Catalog, CREDITS_OVERAGE, METRIC_KEYS, type MetricKey } from './plan.types';
import { addonSchema } from './addon.schema';
import { crossCheckCatalog } from './plan-catalog.checks';
import { creditPackSchema, creditUnitSchema, modelsSchema, planCreditsSchema } from './credit.schema';
import { NO_INCLUDED_CREDITS } from './credit.types';

/**
 * The shape of plans/plans.yaml. Keys are the TypeScript names of `plan.types.ts`, so what the file says is
 * what the code reads, and a zod issue's path is also the path in the file (which is how errors get a line).
 * Objects are strict: a misspelt key (`trialDay`) is an error, not a silently ignored line.
 */

const metricKey = z.enum(METRIC_KEYS);
const lowerCaseCurrency = z
  .string()
  .regex(/^[a-z]{3}$/, { message: 'must be a lower-case ISO 4217 code such as usd' });
const lookupKey = z
  .string()
  .regex(/^[a-z0-9_]{1,200}$/, { message: 'must be lower-case letters, digits and underscores' });

/** Whole cents: a float here would be a rounding bug in every invoice. */
const cents = z
  .number({ invalid_type_error: 'must be a number of cents, e.g. 1900 for $19.00' })
  .int({ message: 'must be whole cents, e.g. 1900 for $19.00 (not 19.00)' })
  .positive({ message: 'must be a positive number of cents' });

/** Stripe's `unit_amount_decimal`: cents with at most 12 decimal places, quoted so YAML keeps it exact. */
const decimalCents = z
  .string({ invalid_type_error: "must be a quoted decimal number of cents, e.g. '1' or '0.5'" })
  .regex(/^\d+(\.\d{1,12})?$/, {
    message: "must be a decimal number of cents with at most 12 decimals, e.g. '0.5'",
  })
  .refine((value) => /[1-9]/.test(value), { message: 'must be more than zero' });

/** Amounts per currency, e.g. `{ usd: 1900, eur: 1800 }`; the cross-checks require every currency of the file. */
const centsByCurrency = z.record(lowerCaseCurrency, cents);

const priceSchema = z
  .object({
    interval: z.enum(['month', 'year']),
    amounts: centsByCurrency,
    lookupKey,
  })
  .strict();

const limitSchema = z
  .object({
    metric: metricKey,
    included: z.union([z.number().int().nonnegative(), z.literal('unlimited')], {
      errorMap: () => ({ message: 'must be a whole number of units or `unlimited`' }),
    }),
    overLimit: z.enum(['block', 'bill_overage']).default('block'),
  })
  .strict();

const seatsSchema = z
  .object({
    included: z.number().int().positive(),
    maximum: z.number().int().positive(),
    prices: z.array(priceSchema).min(1),
  })
  .strict();

const planSchema = z
  .object({
    key: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, { message: 'must be lower-case letters, digits and underscores' }),
    name: z.string().min(1),
    description: z.string().min(1),
    prices: z.array(priceSchema),
    salesLed: z.boolean().default(false),
    productKey: z
      .string()
      .regex(/^prod_[A-Za-z0-9_]+$/, {
        message: 'must look like a Stripe product id, e.g. prod_coditect_starter',
      })
      .nullable()
      .default(null),
    // Stripe allows trials of up to two years.
    trialDays: z.number().int().min(0).max(730),
    trialEndWithoutPaymentMethod: z.enum(['cancel', 'pause', 'create_invoice']).default('cancel'),
    features: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), z.boolean()),
    limits: z.array(limitSchema),
    seats: seatsSchema.nullable().default(null),
    // Credits included each period (issue 17); left out: none.
    credits: planCreditsSchema.nullable().default(null),
  })
  .strict();

const meteredPriceSchema = z
  .object({
    metric: z.enum([...METRIC_KEYS, CREDITS_OVERAGE]),
    meterEventName: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,99}$/, { message: 'must be lower-case letters, digits and underscores' }),
    aggregation: z.enum(['sum', 'last']),
    unitAmountsDecimal: z.record(lowerCaseCurrency, decimalCents),
    lookupKey,
    yearlyLookupKey: lookupKey,
    productName: z.string().min(1),
  })
  .strict();

/** An ISO 8601 time with its offset (`2027-01-31T23:59:59Z`), quoted or not: YAML leaves it a string. */
const instant = z
  .string({ invalid_type_error: 'must be a time such as 2027-01-31T23:59:59Z' })
  .datetime({ offset: true, message: 'must be a time with its zone, such as 2027-01-31T23:59:59Z' })
  .transform((value) => new Date(value))
  .nullable()
  .default(null);

// https://docs.stripe.com/api/coupons/create: percent_off "between 0 and 100"; duration once/repeating/forever.
const couponSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { message: 'must be lower-case letters, digits, - and _' }),
    name: z.string().min(1).max(40, { message: 'Stripe shows at most 40 characters' }),
    percentOff: z
      .number()
      .min(1, { message: 'must be from 1 to 100' })
      .max(100, { message: 'must be from 1 to 100' })
      .nullable()
      .default(null),
    amountsOff: centsByCurrency.nullable().default(null),
    duration: z.enum(['once', 'repeating', 'forever']),
    durationInMonths: z.number().int().positive().nullable().default(null),
    plans: z.array(z.string()).default([]),
    redeemBy: instant,
    maxRedemptions: z.number().int().positive().nullable().default(null),
  })
  .strict();

// https://docs.stripe.com/api/promotion_codes/create: `code` "Valid characters are lower case letters (a-z), upper
// case letters (A-Z), and digits (0-9)".
const promotionCodeSchema = z
  .object({
    code: z.string().regex(/^[A-Za-z0-9]{3,40}$/, { message: 'must be 3 to 40 letters and digits' }),
    coupon: z.string().min(1),
    active: z.boolean().default(true),
    expiresAt: instant,
    maxRedemptions: z.number().int().positive().nullable().default(null),
    firstTimeOnly: z.boolean().default(false),
    minimumAmounts: centsByCurrency.nullable().default(null),
  })
  .strict();

const metricSchema = z.object({ kind: z.enum(['counter', 'gauge']), unit: z.string().min(1) }).strict();

/** The file as written. */
export const catalogFileSchema = z
  .object({
    // The first is the base: each Stripe price's own currency; the others are its `currency_options`.
    currencies: z.array(lowerCaseCurrency).min(1, { message: 'name at least one currency, e.g. [usd]' }),
    metrics: z.record(metricKey, metricSchema),
    plans: z.array(planSchema).min(1),
    meteredPrices: z.array(meteredPriceSchema).default([]),
    addons: z.array(addonSchema).default([]),
    coupons: z.array(couponSchema).default([]),
    promotionCodes: z.array(promotionCodeSchema).default([]),
    credits: creditUnitSchema.default({ unit: 'credit' }),
    models: modelsSchema.default({}),
    creditPacks: z.array(creditPackSchema).default([]),
  })
  .strict()
  .superRefine(crossCheckCatalog);

export type CatalogFile = z.infer<typeof catalogFileSchema>;

/** The validated file as the `Catalog` the services read: `unlimited` as null. */
export function toCatalog(file: CatalogFile): Catalog {
  return {
    currencies: file.currencies,
    metrics: {
      ai_requests: declaredMetric(file, 'ai_requests'),
      storage_mb: declaredMetric(file, 'storage_mb'),
      seats: declaredMetric(file, 'seats'),
    },
    plans: file.plans.map((plan) => ({
      ...plan,
      credits: plan.credits ?? NO_INCLUDED_CREDITS,
      limits: plan.limits.map((limit) => ({
        ...limit,
        included: limit.included === 'unlimited' ? null : limit.included,
      })),
    })),
    meteredPrices: file.meteredPrices,
    addons: file.addons,
    coupons: file.coupons,
    promotionCodes: file.promotionCodes,
    credits: file.credits,
    models: file.models,
    creditPacks: file.creditPacks,
  };
}

function declaredMetric(file: CatalogFile, key: MetricKey): Catalog['metrics'][MetricKey] {
  const metric = file.metrics[key];
  // The cross-checks already refused a file without it; this keeps the type honest without a cast.
  if (!metric) throw new Error(`metric ${key} is not declared`);
  return metric;
}
