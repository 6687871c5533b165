import { BigIntType, Check, Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * What a member's settled work used in one calendar month (UTC), written in the settle's transaction. What the
 * member holds is not kept here: it is read from the member's live holds, which expire without a write of ours.
 */
@Entity({ tableName: 'credit_member_period' })
@Check({ name: 'credit_member_period_burned_check', expression: 'burned >= 0' })
export class CreditMemberPeriod {
  @PrimaryKey({ type: 'string', length: 255 })
  accountId!: string;

  @PrimaryKey({ type: 'string', length: 128 })
  memberId!: string;

  /** The first instant of the month, UTC. */
  @PrimaryKey({ type: 'datetime' })
  periodStart!: Date;

  /** Whole credits the member's settled holds used this month (burned, and any part the balance left uncovered). */
  @Property({ type: new BigIntType('number') })
  burned = 0;

  @Property({ type: 'datetime' })
  updatedAt!: Date;
}
