import { BigIntType, Check, Entity, Index, Property } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

/**
 * - `held`: counts in `credit_balance.held` until it expires;
 * - `settled`: what the work used was burned (`settledCredits`);
 * - `released`: given back unused;
 * - `expired`: its time ran out first (a late settle still burns).
 */
export type CreditHoldState = 'held' | 'settled' | 'released' | 'expired';

/** Credits set aside for work in progress: taken from `available = balance - held`, burned or given back after. */
@Entity({ tableName: 'credit_hold' })
@Index({ properties: ['accountId', 'state', 'expiresAt'] })
// BRIN (migration Migration20261208176000_credit_hold_retention): rows are written in time order, and only the
// maintenance job's delete of finished holds past the retention reads by `createdAt` (credit-hold-retention.ts).
@Index({ properties: ['createdAt'], type: 'brin' })
@Check({ name: 'credit_hold_credits_check', expression: 'credits >= 0' })
@Check({ name: 'credit_hold_max_output_tokens_check', expression: 'max_output_tokens >= 0' })
@Check({
  name: 'credit_hold_overage_credits_check',
  expression: 'overage_credits >= 0 and overage_credits <= credits',
})
export class CreditHold extends BaseEntity<
  'state' | 'settledCredits' | 'memberId' | 'model' | 'pricedAt' | 'overageCredits' | 'maxOutputTokens'
> {
  @Property({ type: 'string', length: 255 })
  accountId!: string;

  /** The team member the work is for, when the calling service names one. */
  @Property({ type: 'string', length: 255, nullable: true })
  memberId: string | null = null;

  @Property({ type: new BigIntType('number') })
  credits!: number;

  /** The part of `credits` the balance did not cover when it was held: kept against the spend limit instead. */
  @Property({ type: new BigIntType('number') })
  overageCredits = 0;

  /** The `ai_credits` price per credit (and its currency) `overageCredits` were admitted at; null without any. */
  @Property({ type: 'string', length: 32, nullable: true })
  overagePrice: string | null = null;

  @Property({ type: 'string', length: 3, nullable: true })
  overageCurrency: string | null = null;

  @Property({ type: 'datetime' })
  expiresAt!: Date;

  @Property({ type: 'string', length: 16 })
  state: CreditHoldState = 'held';

  /** What the settle burned and left uncovered together (the work's actual credits); null until settled. */
  @Property({ type: new BigIntType('number'), nullable: true })
  settledCredits: number | null = null;

  /** A model call's hold (token reservations): the model, priced again at commit at `pricedAt`'s rate. */
  @Property({ type: 'string', length: 64, nullable: true })
  model: string | null = null;

  /** When the call was priced: its commit uses the rate card's version in effect at this moment. */
  @Property({ type: 'datetime', nullable: true })
  pricedAt: Date | null = null;

  /** A model call's most output (`maxOutputTokens`): a commit of more is refused (RESERVATION_EXCEEDED). */
  @Property({ type: new BigIntType('number'), nullable: true })
  maxOutputTokens: number | null = null;
}
