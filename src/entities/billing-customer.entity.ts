import { Entity, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

export interface PostalAddress {
  line1: string | null;
  line2: string | null;
  city: string | null;
  state: string | null;
  postalCode: string | null;
  country: string | null;
}

/** The link between one CODITECT account and its Stripe customer: exactly one row per account. */
@Entity({ tableName: 'billing_customer' })
export class BillingCustomer extends BaseEntity<
  'email' | 'name' | 'address' | 'currency' | 'deletedAt' | 'stripeUpdatedAt'
> {
  @Unique()
  @Property({ type: 'string', length: 255 })
  accountId!: string;

  @Unique()
  @Property({ type: 'string', length: 255, nullable: true })
  stripeCustomerId: string | null = null;

  @Property({ type: 'string', length: 320, nullable: true })
  email: string | null = null;

  @Property({ type: 'string', length: 255, nullable: true })
  name: string | null = null;

  @Property({ type: 'json', nullable: true })
  address: PostalAddress | null = null;

  /**
   * The currency the account pays in (ISO 4217, lower case), chosen once (by the customer, else its billing
   * country) when it first subscribes or opens Checkout, and kept: Stripe refuses a second currency on a customer,
   * and the service refuses it first. Null until then.
   */
  @Property({ type: 'string', length: 3, nullable: true })
  currency: string | null = null;

  /** Set when the Stripe customer was deleted; the row stays so history keeps its owner. */
  @Property({ type: 'datetime', nullable: true })
  deletedAt: Date | null = null;

  /**
   * A short claim taken while a subscription is being created or changed in Stripe, so two concurrent requests
   * cannot both subscribe the account; it expires by itself if its holder crashes.
   */
  @Property({ type: 'datetime', nullable: true })
  changeLockedUntil: Date | null = null;

  /** Stripe's time of the state this row holds: an older event never overwrites a newer one. */
  @Property({ type: 'datetime', nullable: true })
  stripeUpdatedAt: Date | null = null;
}
