import { Entity, Enum, Index, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { BILLING_INTERVALS, type BillingInterval } from './subscription.entity';

/**
 * A Checkout Session this service created, for the account that asked for it. `checkout.session.completed` and
 * the read after the redirect link a session to an account only when it is here: a Payment Link or a Dashboard
 * session can carry any `client_reference_id`, so Stripe's session alone never names an account.
 */
@Entity({ tableName: 'checkout_session' })
@Index({ properties: ['accountId', 'createdAt'] })
export class CheckoutSessionRecord extends BaseEntity<'withTrial'> {
  @Unique()
  @Property({ type: 'string', length: 255 })
  stripeSessionId!: string;

  @Property({ type: 'string', length: 255 })
  accountId!: string;

  /** Key of the plan in plans/plans.yaml. */
  @Property({ type: 'string', length: 64 })
  planKey!: string;

  @Enum({ items: () => BILLING_INTERVALS, nativeEnumName: 'billing_interval' })
  interval!: BillingInterval;

  @Property({ type: 'boolean' })
  withTrial = false;
}
