import { z } from 'zod';
import type { CreditRollover } from './credit.types';

/**
 * The shapes of the credit parts of plans/plans.yaml (issue 17): `credits:`, `models:` (the rate card),
 * `creditPacks:` and a plan's `credits:`. What spans entries (lookup keys, currencies) is in credit.checks.ts.
 */

/** GraphQL's Int is 32-bit: every count of credits the API shows must fit in it. */
const GRAPHQL_INT_MAX = 2_147_483_647;

function wholeCredits(what: string) {
  return z
    .number({ invalid_type_error: `must be a whole number of ${what}` })
    .int({ message: `must be a whole number of ${what} (no decimal point)` })
    .nonnegative({ message: `must be zero or more ${what}` })
    .max(GRAPHQL_INT_MAX, { message: `must be at most ${GRAPHQL_INT_MAX} ${what}` });
}

const snakeKey = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, { message: 'must be lower-case letters, digits and underscores' });

export const creditUnitSchema = z
  .object({
    unit: z.string().regex(/^[a-z][a-z ]{0,30}$/, { message: 'must be a lower-case word such as credit' }),
  })
  .strict();

/** Model keys as the calling services send them: `claude-sonnet-4`, `gpt-5-mini`. */
export const MODEL_KEY_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const modelPriceVersionSchema = z
  .object({
    effectiveFrom: z
      .string({ invalid_type_error: 'must be a time such as 2026-01-01T00:00:00Z' })
      .datetime({ offset: true, message: 'must be a time with its zone, such as 2026-01-01T00:00:00Z' })
      .transform((value) => new Date(value)),
    inputCreditsPerMillion: wholeCredits('credits per million tokens'),
    outputCreditsPerMillion: wholeCredits('credits per million tokens'),
  })
  .strict();

/** A model's versions: at least one, each later than the one before (a change applies from its moment). */
const modelVersionsSchema = z
  .array(modelPriceVersionSchema)
  .min(1, { message: 'give the model at least one price version' })
  .superRefine((versions, ctx) => {
    versions.forEach((version, index) => {
      const before = versions[index - 1];
      if (before && version.effectiveFrom.getTime() <= before.effectiveFrom.getTime()) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: [index, 'effectiveFrom'],
          message: `must be later than the version before it (${before.effectiveFrom.toISOString()}): list versions oldest first, each moment once`,
        });
      }
    });
  });

export const modelsSchema = z.record(
  z.string().regex(MODEL_KEY_PATTERN, {
    message: 'a model key is lower-case letters, digits, dots, dashes and underscores, e.g. claude-sonnet-4',
  }),
  modelVersionsSchema,
);

export const creditPackSchema = z
  .object({
    key: snakeKey,
    name: z.string().min(1),
    credits: wholeCredits('credits').positive({ message: 'a pack sells at least one credit' }),
    // Per currency of the catalog, in cents; the cross-checks require every one.
    amounts: z.record(
      z.string().regex(/^[a-z]{3}$/, { message: 'must be a lower-case ISO 4217 code such as usd' }),
      z
        .number({ invalid_type_error: 'must be a number of cents, e.g. 1000 for $10.00' })
        .int({ message: 'must be whole cents, e.g. 1000 for $10.00 (not 10.00)' })
        .positive({ message: 'must be a positive number of cents' }),
    ),
    lookupKey: z
      .string()
      .regex(/^[a-z0-9_]{1,200}$/, { message: 'must be lower-case letters, digits and underscores' }),
    expiresAfterDays: z
      .number()
      .int({ message: 'must be a whole number of days' })
      .positive({ message: 'must be at least 1 day (leave it out for credits that never expire)' })
      .nullable()
      .default(null),
  })
  .strict();

const rolloverSchema = z
  .union(
    [
      z.literal('none'),
      z
        .object({
          percent: z
            .number()
            .int({ message: 'must be a whole percentage from 1 to 100' })
            .min(1, { message: 'must be from 1 to 100' })
            .max(100, { message: 'must be from 1 to 100' }),
        })
        .strict(),
      z
        .object({
          max: wholeCredits('credits').positive({ message: 'must be a positive whole number of credits' }),
        })
        .strict(),
    ],
    {
      errorMap: () => ({
        message: 'must be none, { percent: 1 to 100 } or { max: a positive whole number of credits }',
      }),
    },
  )
  .transform(
    (value): CreditRollover =>
      value === 'none'
        ? { kind: 'none' }
        : 'percent' in value
          ? { kind: 'percent', percent: value.percent }
          : { kind: 'max', max: value.max },
  );

export const planCreditsSchema = z
  .object({
    included: wholeCredits('credits'),
    rollover: rolloverSchema.default('none'),
    // What a model call the balance cannot cover does: refused (block), or billed as overage (docs/credits.md).
    overLimit: z.enum(['block', 'bill_overage']).default('block'),
  })
  .strict()
  .superRefine((credits, ctx) => {
    if (credits.included === 0 && credits.rollover.kind !== 'none') {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['rollover'],
        message: 'a plan that includes no credits has nothing to roll over: use rollover: none',
      });
    }
  });
