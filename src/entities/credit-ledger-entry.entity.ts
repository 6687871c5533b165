import { BigIntType, Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

/** What an entry records; `credits` is positive for the first four and `rollover`, negative for the rest. */
export type CreditEntryKind =
  | 'grant'
  | 'purchase'
  | 'included'
  | 'rollover'
  | 'burn'
  | 'expiry'
  | 'refund'
  | 'adjustment';

/**
 * One change of an account's credits, append-only: never updated or deleted. The account's balance is the sum
 * of its entries' `credits`; `id` orders them (an identity, so a later entry always has a greater id).
 */
@Entity({ tableName: 'credit_ledger_entry' })
@Index({ properties: ['accountId', 'id'] })
@Index({ properties: ['accountId', 'kind', 'sourceType', 'sourceId'] })
export class CreditLedgerEntry {
  @PrimaryKey({ type: new BigIntType('number'), autoincrement: true })
  id!: number;

  @Property({ type: 'string', length: 255 })
  accountId!: string;

  @Property({ type: 'string', length: 16 })
  kind!: CreditEntryKind;

  /** Signed: what this entry added to (or took from) the balance. */
  @Property({ type: new BigIntType('number') })
  credits!: number;

  /** The account's balance just after this entry. */
  @Property({ type: new BigIntType('number') })
  balanceAfter!: number;

  /** A burn's part the balance could not cover (billed as overage or written off); 0 otherwise. */
  @Property({ type: new BigIntType('number') })
  uncovered = 0;

  /** Of `uncovered`, what was billed as overage (the `ai_credits` metered price); the rest was written off. */
  @Property({ type: new BigIntType('number') })
  billed = 0;

  /** The lot it added to or took from; null for a burn nothing covered. */
  @Property({ type: 'uuid', nullable: true })
  lotId: string | null = null;

  @Property({ type: 'text' })
  reason!: string;

  @Property({ type: 'string', length: 32 })
  sourceType!: string;

  @Property({ type: 'string', length: 255 })
  sourceId!: string;

  /** Who caused it: `system`, `stripe`, an admin's user id. */
  @Property({ type: 'string', length: 255 })
  actor!: string;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
