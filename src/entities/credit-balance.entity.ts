import { BigIntType, Check, Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * An account's credits as one row: the fast read, and the row every change locks first (so concurrent changes of
 * one account queue up and none takes a level below zero). `balance` always equals the sum of the account's
 * ledger entries and of its lots' `remaining`; `held` the sum of its live holds.
 */
@Entity({ tableName: 'credit_balance' })
@Check({ name: 'credit_balance_balance_check', expression: 'balance >= 0' })
@Check({ name: 'credit_balance_held_check', expression: 'held >= 0' })
@Check({ name: 'credit_balance_overage_held_check', expression: 'overage_held >= 0' })
@Check({ name: 'credit_balance_spend_limit_cents_check', expression: 'spend_limit_cents >= 0' })
export class CreditBalance {
  @PrimaryKey({ type: 'string', length: 255 })
  accountId!: string;

  @Property({ type: new BigIntType('number') })
  balance = 0;

  @Property({ type: new BigIntType('number') })
  held = 0;

  /**
   * The most the account may owe beyond its plan in a usage period (overage in credits plus automatic top-ups),
   * in minor units of its currency; null: no limit (docs/credits.md "Overage and the spend limit").
   */
  @Property({ type: new BigIntType('number'), nullable: true })
  spendLimitCents: number | null = null;

  /** Credits live holds keep beyond the balance, to be billed as overage if the work uses them. */
  @Property({ type: new BigIntType('number') })
  overageHeld = 0;

  /**
   * The soonest expiry of the account's live holds and lots, never later than any of them (null: none can
   * expire): a change drops expired ones first only when this is due, not on every change.
   */
  @Property({ type: 'datetime', nullable: true })
  nextExpiryAt: Date | null = null;

  @Property({ type: 'datetime' })
  updatedAt: Date = new Date();
}
