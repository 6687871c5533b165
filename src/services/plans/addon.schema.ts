import { z } from 'zod';
import { METRIC_KEYS } from './plan.types';

/**
 * The shape of one entry of `addons:` in plans/plans.yaml (ADR 0024). Keys are the TypeScript names of `Addon`
 * (plan.types.ts). What one entry cannot check alone (plans, features, lookup keys) is in addon.checks.ts.
 */

const snakeKey = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, { message: 'must be lower-case letters, digits and underscores' });

const addonPriceSchema = z
  .object({
    interval: z.enum(['month', 'year']),
    // Per currency of the catalog (`{ usd: 500, eur: 500 }`); the cross-checks require every one.
    amounts: z.record(
      z.string().regex(/^[a-z]{3}$/, { message: 'must be a lower-case ISO 4217 code such as usd' }),
      z
        .number({ invalid_type_error: 'must be a number of cents, e.g. 500 for $5.00' })
        .int({ message: 'must be whole cents, e.g. 500 for $5.00 (not 5.00)' })
        .positive({ message: 'must be a positive number of cents' }),
    ),
    lookupKey: z
      .string()
      .regex(/^[a-z0-9_]{1,200}$/, { message: 'must be lower-case letters, digits and underscores' }),
  })
  .strict();

export const addonSchema = z
  .object({
    key: snakeKey,
    name: z.string().min(1),
    description: z.string().min(1),
    productKey: z.string().regex(/^prod_[A-Za-z0-9_]+$/, {
      message: 'must look like a Stripe product id, e.g. prod_coditect_priority_support',
    }),
    prices: z.array(addonPriceSchema).min(1, { message: 'an add-on needs at least one price' }),
    plans: z.array(z.string()).min(1, { message: 'name the plans that may carry it' }),
    // Stripe's subscription item quantity is a whole number; null: the add-on is bought once or not at all.
    quantity: z
      .object({ max: z.number().int().min(2, { message: 'must be at least 2 (or quantity: null)' }) })
      .strict()
      .nullable()
      .default(null),
    grants: z
      .object({
        features: z
          .record(snakeKey, z.literal(true, { errorMap: () => ({ message: 'an add-on grants (true)' }) }))
          .default({}),
        limits: z
          .array(
            z
              .object({
                metric: z.enum(METRIC_KEYS),
                added: z.number().int().positive({ message: 'must be a positive whole number of units' }),
              })
              .strict(),
          )
          .default([]),
      })
      .strict(),
  })
  .strict();

export type AddonEntry = z.infer<typeof addonSchema>;
