/**
 * Credits as plans/plans.yaml declares them (issue 17): the unit, the rate card that prices model calls in it,
 * the packs that sell it, and what each plan includes per period. A credit is an integer unit of its own: packs
 * sell it, model calls burn it; its money value is whatever a pack charged for it, never a fixed rate.
 */

/** `credits: { unit: credit }`: what one credit is called where customers read it. */
export interface CreditUnit {
  unit: string;
}

/** One price of a model, in effect from `effectiveFrom` until the next version's `effectiveFrom`. */
export interface ModelPriceVersion {
  effectiveFrom: Date;
  /** Credits per million input (prompt) tokens. */
  inputCreditsPerMillion: number;
  /** Credits per million output (completion) tokens. */
  outputCreditsPerMillion: number;
}

/** `models:`: each model key's price versions, in increasing `effectiveFrom` (the checks refuse any other order). */
export type RateCardModels = Readonly<Record<string, readonly ModelPriceVersion[]>>;

/** A credit pack sold once (a one-time Stripe price), e.g. 10,000 credits for $10. */
export interface CreditPack {
  key: string;
  name: string;
  /** Credits the pack grants. */
  credits: number;
  /** Integer minor units per currency of the catalog: one Stripe price carries them all (`currency_options`). */
  amounts: Readonly<Record<string, number>>;
  /** The lookup key of its one-time Stripe price. */
  lookupKey: string;
  /** Days after the purchase its credits expire; null: they never do. */
  expiresAfterDays: number | null;
}

/**
 * What happens to the included credits a period leaves unused: they lapse (`none`), `percent` of them (rounded
 * down) carry into the next period, or at most `max` of them do.
 */
export type CreditRollover =
  | { kind: 'none' }
  | { kind: 'percent'; percent: number }
  | { kind: 'max'; max: number };

/** The credits a plan includes each billing period (granted at each renewal by the ledger). */
export interface PlanCredits {
  included: number;
  rollover: CreditRollover;
  /**
   * A model call the balance cannot cover: refused (`block`), or allowed and the credits beyond the balance billed
   * through the `ai_credits` metered price (`bill_overage`), up to the account's spend limit.
   */
  overLimit: 'block' | 'bill_overage';
}

/** A plan that says nothing about credits includes none and refuses a call past the balance. */
export const NO_INCLUDED_CREDITS: PlanCredits = {
  included: 0,
  rollover: { kind: 'none' },
  overLimit: 'block',
};
