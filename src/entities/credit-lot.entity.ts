import { BigIntType, Check, Entity, Index, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

/**
 * Where a lot's credits came from: a plan period's allowance (`included`), a paid pack (`purchase`), a
 * promotional or admin grant (`grant`), or what a plan carried over at renewal (`rollover`).
 */
export type CreditLotKind = 'included' | 'purchase' | 'grant' | 'rollover';

/**
 * One grant of credits to an account, and what is left of it. Burns take from lots in the burn order
 * (docs/credits.md); a lot past `expiresAt` loses what is left. The source (a Stripe invoice or PaymentIntent, an
 * admin's key, a plan period) is unique per account: granting from the same source twice is one grant.
 */
@Entity({ tableName: 'credit_lot' })
@Unique({ properties: ['accountId', 'sourceType', 'sourceId'] })
@Index({ properties: ['accountId', 'remaining'] })
@Index({ properties: ['expiresAt'] })
@Check({ name: 'credit_lot_remaining_check', expression: 'remaining >= 0 and remaining <= credits' })
export class CreditLot extends BaseEntity {
  @Property({ type: 'string', length: 255 })
  accountId!: string;

  @Property({ type: 'string', length: 16 })
  kind!: CreditLotKind;

  /** Credits granted (integer credits, see docs/credits.md). */
  @Property({ type: new BigIntType('number') })
  credits!: number;

  /** What burns, expiry and refunds have left of it. */
  @Property({ type: new BigIntType('number') })
  remaining!: number;

  /** null = never expires. */
  @Property({ type: 'datetime', nullable: true })
  expiresAt: Date | null = null;

  /** e.g. `stripe_invoice`, `stripe_payment_intent`, `admin`, `plan_period`. */
  @Property({ type: 'string', length: 32 })
  sourceType!: string;

  /** e.g. `in_…`, `pi_…`, the admin's idempotency key, `sub_…:2026-12-01`. */
  @Property({ type: 'string', length: 255 })
  sourceId!: string;
}
