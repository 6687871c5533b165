import { BigIntType, Check, Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * An account's low-balance mail (issue 17): when its available credits fall below the threshold, the customer is
 * mailed once per crossing. `belowCredits` is the customer's own threshold (0: off); null means never set, so the
 * plan's default applies (20 % of the period's included credits). `armed` is the crossing, as for automatic
 * top-up: it goes off with the mail and on again only once the credits are back at or above the threshold.
 * `crossings` counts the mails claimed: each one's dedupe key.
 */
@Entity({ tableName: 'credit_low_balance_alert' })
@Check({ name: 'credit_low_balance_alert_below_check', expression: 'below_credits >= 0' })
export class CreditLowBalanceAlert {
  @PrimaryKey({ type: 'string', length: 255 })
  accountId!: string;

  @Property({ type: new BigIntType('number'), nullable: true })
  belowCredits: number | null = null;

  @Property({ type: 'boolean' })
  armed = true;

  @Property({ type: 'integer' })
  crossings = 0;

  @Property({ type: 'datetime' })
  updatedAt: Date = new Date();
}
