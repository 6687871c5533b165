import { BigIntType, Check, Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * An account's automatic top-up (issue 17): when its available credits fall below `belowCredits`, the pack
 * `packKey` is charged to the saved card, off-session, once per crossing. `armed` is the crossing: it goes off
 * with the charge and on again only once the credits are back at or above the threshold, so a pack smaller than
 * the gap is not charged again and again. `chargingSince` is the claim: one charge at a time, whichever instance
 * sees the crossing; a claim left by a crashed process is charged again with the same `attempt` (the same
 * idempotency key, so Stripe answers the first charge). A failure turns it off and mails the customer.
 */
@Entity({ tableName: 'credit_auto_top_up' })
@Check({ name: 'credit_auto_top_up_below_check', expression: 'below_credits > 0' })
export class CreditAutoTopUp {
  @PrimaryKey({ type: 'string', length: 255 })
  accountId!: string;

  @Property({ type: 'boolean' })
  enabled = false;

  @Property({ type: new BigIntType('number') })
  belowCredits!: number;

  @Property({ type: 'string', length: 64 })
  packKey!: string;

  @Property({ type: 'boolean' })
  armed = true;

  @Property({ type: 'datetime', nullable: true })
  chargingSince: Date | null = null;

  /** Charges started so far: the idempotency key of each is `auto-top-up:<attempt>`. */
  @Property({ type: 'integer' })
  attempt = 0;

  /** Why the last charge failed (auto top-up is then off); null after a success or a new setting. */
  @Property({ type: 'string', length: 255, nullable: true })
  lastFailure: string | null = null;

  @Property({ type: 'datetime', nullable: true })
  lastFailureAt: Date | null = null;

  @Property({ type: 'datetime' })
  updatedAt: Date = new Date();
}
