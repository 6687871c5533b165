import { BigIntType, Check, Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * What an account spent beyond its plan in one usage period, against its spend limit: credits billed as overage
 * and automatic top-ups charged (their pack amounts, before tax), written under the account's credit_balance lock.
 * `alertedPercent` is the last spend alert sent this period (0, 80 or 100): each goes out once.
 */
@Entity({ tableName: 'credit_spend' })
@Check({ name: 'credit_spend_overage_credits_check', expression: 'overage_credits >= 0' })
@Check({ name: 'credit_spend_top_up_cents_check', expression: 'top_up_cents >= 0' })
export class CreditSpend {
  @PrimaryKey({ type: 'string', length: 255 })
  accountId!: string;

  /** The usage period's first instant (usage-period.ts: the subscription's, monthly slices of a yearly one). */
  @PrimaryKey({ type: 'datetime' })
  periodStart!: Date;

  @Property({ type: 'datetime' })
  periodEnd!: Date;

  @Property({ type: new BigIntType('number') })
  overageCredits = 0;

  @Property({ type: new BigIntType('number') })
  topUpCents = 0;

  @Property({ type: 'smallint' })
  alertedPercent = 0;

  @Property({ type: 'datetime' })
  updatedAt!: Date;
}
