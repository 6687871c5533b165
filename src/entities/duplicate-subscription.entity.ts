import { BigIntType, Entity, Index, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

/**
 * A second live subscription of an account that was cancelled (and refunded) because the account already had
 * one: two tabs each paying a Checkout, or a checkout paid while another was on its way. One row per duplicate;
 * its insertion is what counts it (`billing_duplicate_subscriptions_total`) and mails the customer, once.
 */
@Entity({ tableName: 'duplicate_subscription' })
@Index({ properties: ['accountId', 'createdAt'] })
export class DuplicateSubscription extends BaseEntity {
  /** The duplicate, now cancelled. */
  @Unique()
  @Property({ type: 'string', length: 255 })
  stripeSubscriptionId!: string;

  /** The subscription the account keeps. */
  @Property({ type: 'string', length: 255 })
  keptSubscriptionId!: string;

  @Property({ type: 'string', length: 255 })
  accountId!: string;

  /** What was refunded of the duplicate's payments, in minor units of `currency` (0 for a trial). */
  @Property({ type: new BigIntType('number') })
  amountRefunded!: number;

  @Property({ type: 'string', length: 3 })
  currency!: string;
}
