import { BigIntType, Entity, Index, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

/**
 * A chargeback: the cardholder asked their bank for the money back. Recorded for the admins; the account's
 * subscription is left as it is (a dispute is fought or accepted by people, not by this service). Amounts are
 * integer minor units of `currency`.
 */
@Entity({ tableName: 'dispute' })
@Index({ properties: ['accountId', 'stripeCreatedAt'] })
@Index({ properties: ['status'] })
export class Dispute extends BaseEntity<
  'accountId' | 'stripePaymentIntentId' | 'stripeInvoiceId' | 'evidenceDueBy' | 'closedAt'
> {
  @Unique()
  @Property({ type: 'string', length: 255 })
  stripeDisputeId!: string;

  /** The account of the disputed charge's customer; null when the customer is not one of ours. */
  @Property({ type: 'string', length: 255, nullable: true })
  accountId: string | null = null;

  @Property({ type: 'string', length: 255 })
  stripeChargeId!: string;

  @Property({ type: 'string', length: 255, nullable: true })
  stripePaymentIntentId: string | null = null;

  /** The invoice the disputed payment paid, when it paid one. */
  @Property({ type: 'string', length: 255, nullable: true })
  stripeInvoiceId: string | null = null;

  @Property({ type: new BigIntType('number') })
  amount!: number;

  /** ISO 4217, lower case as Stripe sends it. */
  @Property({ type: 'string', length: 3 })
  currency!: string;

  /** Stripe's reason: fraudulent, duplicate, product_not_received, subscription_canceled, general, … */
  @Property({ type: 'string', length: 64 })
  reason!: string;

  /** Stripe's status: warning_needs_response, needs_response, under_review, won, lost, warning_closed, … */
  @Property({ type: 'string', length: 32 })
  status!: string;

  /** The last moment evidence can be submitted to the bank. */
  @Property({ type: 'datetime', nullable: true })
  evidenceDueBy: Date | null = null;

  /** When we first saw it closed (won, lost or warning_closed). */
  @Property({ type: 'datetime', nullable: true })
  closedAt: Date | null = null;

  @Property({ type: 'datetime' })
  stripeCreatedAt!: Date;

  /** When we read this state from Stripe: an older read never overwrites a newer one. */
  @Property({ type: 'datetime' })
  stripeUpdatedAt!: Date;
}
