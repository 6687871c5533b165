import type { UsagePeriod } from '../usage/usage-period';
import type { OverageTerms } from './credit-overage.types';
import type { CreditEntryKind, CreditHoldState, CreditLotKind } from '../../entities';

/**
 * Where credits came from or went: `stripe_invoice` + `in_…`, `stripe_payment_intent` + `pi_…`, `admin` + the
 * admin's idempotency key, `plan_period` + subscription and period, `credit_hold` + a hold's id, `usage` + a
 * usage record's key. Unique per account for grants; for burns, one burn per source.
 */
export interface CreditSource {
  type: string;
  id: string;
}

export interface GrantCredits {
  accountId: string;
  kind: CreditLotKind;
  /** Whole credits, at least 1. */
  credits: number;
  /** null = never expires; else after now. */
  expiresAt: Date | null;
  reason: string;
  source: CreditSource;
  /** Who granted: `system`, `stripe`, `admin:<account>`. */
  actor: string;
}

export interface CreditLotView {
  id: string;
  accountId: string;
  kind: CreditLotKind;
  credits: number;
  remaining: number;
  expiresAt: Date | null;
  source: CreditSource;
  createdAt: Date;
}

/** A grant's answer: the lot, and whether an earlier grant from the same source already made it. */
export interface GrantResult {
  lot: CreditLotView;
  /** The entry this grant wrote; null for a duplicate (the first grant wrote it). */
  entryId: number | null;
  duplicate: boolean;
}

export interface BurnCredits {
  accountId: string;
  credits: number;
  source: CreditSource;
  reason: string;
  actor?: string;
}

/** What a burn took from the balance, and what it could not cover (the caller bills it as overage, or refuses). */
export interface BurnResult {
  burned: number;
  /** What the balance could not cover: `billed` as overage, the rest written off. */
  uncovered: number;
  /** Of `uncovered`, billed through the `ai_credits` metered price (0 on a plan that refuses overage). */
  billed: number;
  duplicate: boolean;
}

export interface HoldCredits {
  accountId: string;
  memberId?: string | null;
  credits: number;
  ttlSeconds: number;
  /** The caller's id for the hold (a UUID): holding again with it answers the same hold. */
  holdId: string;
  /** A model call's hold: the model and the moment it was priced (its commit is priced at that moment). */
  model?: string | null;
  pricedAt?: Date | null;
  /** A model call's most output tokens: its commit may not report more (token-reservations.ts). */
  maxOutputTokens?: number | null;
  /** On a plan that bills credits beyond the balance: what they cost and in which period (credit-overage.ts). */
  overage?: OverageTerms | null;
}

export interface CreditHoldView {
  id: string;
  accountId: string;
  memberId: string | null;
  credits: number;
  expiresAt: Date;
  state: CreditHoldState;
  /** A model call's hold: the model and when it was priced; null for other holds. */
  model: string | null;
  pricedAt: Date | null;
  /** The part of `credits` beyond the balance when it was held, kept against the spend limit. */
  overageCredits: number;
  /** A model call's most output tokens (null: not kept, or not a model call's hold). */
  maxOutputTokens: number | null;
}

/**
 * A hold is refused (not thrown) when the account's available credits are fewer than asked and the plan refuses
 * overage (`insufficient_credits`), or the part beyond them does not fit under the spend limit (`spend_limit`:
 * `overageRoom` is how many credits still fit).
 */
export type HoldResult =
  | { ok: true; hold: CreditHoldView; duplicate: boolean }
  | {
      ok: false;
      reason: 'insufficient_credits' | 'spend_limit';
      available: number;
      requested: number;
      overageRoom: number;
      limitCents: number | null;
    };

export interface SettleHold {
  accountId: string;
  holdId: string;
  /** What the work actually used: may be more than held (the balance covers what it can). */
  credits: number;
  /** On a plan that bills credits beyond the balance: what they cost and in which period. */
  overage?: OverageTerms | null;
  /**
   * The usage period now: where what a live hold was admitted beyond the balance is billed, at the price it was
   * admitted at, when the terms no longer bill overage (a plan change, a subscription turned past due).
   */
  period?: UsagePeriod | null;
}

/**
 * A settle priced from the hold itself (a model call: its model and the moment it was priced), read once, under
 * the lock: `price` answers what the work used, or throws (nothing is then written).
 */
export interface SettlePricedHold {
  accountId: string;
  holdId: string;
  price: (hold: CreditHoldView) => number;
  /** On a plan that bills credits beyond the balance: what they cost and in which period. */
  overage?: OverageTerms | null;
  /**
   * The usage period now: where what a live hold was admitted beyond the balance is billed, at the price it was
   * admitted at, when the terms no longer bill overage (a plan change, a subscription turned past due).
   */
  period?: UsagePeriod | null;
}

export type SettleResult = ({ outcome: 'settled' } & BurnResult) | { outcome: 'released' | 'unknown' };

export interface RemoveUnspent {
  accountId: string;
  source: CreditSource;
  reason?: string;
  actor?: string;
}

/** A refunded pack: what was left and is now removed, and what had already been spent of it. */
export type RemoveUnspentResult =
  | { found: false }
  | { found: true; removed: number; spent: number; granted: number; duplicate: boolean };

export interface AdjustCredits {
  accountId: string;
  /** Signed whole credits: positive adds (a lot that never expires), negative takes in the burn order. */
  credits: number;
  reason: string;
  actor: string;
  idempotencyKey: string;
}

export interface AdjustResult {
  credits: number;
  balance: number;
  duplicate: boolean;
}

export interface ExpiringCredits {
  credits: number;
  at: Date;
}

export interface CreditBalanceView {
  balance: number;
  held: number;
  /** balance - held, never below 0. */
  available: number;
  /** The soonest-expiring credits within 7 days, or null. */
  expiringSoon: ExpiringCredits | null;
}

export interface CreditEntryView {
  id: number;
  accountId: string;
  kind: CreditEntryKind;
  credits: number;
  balanceAfter: number;
  uncovered: number;
  /** Of `uncovered`, billed as overage. */
  billed: number;
  lotId: string | null;
  reason: string;
  source: CreditSource;
  actor: string;
  createdAt: Date;
}

export interface CreditEntryPage {
  entries: CreditEntryView[];
  hasNextPage: boolean;
}
