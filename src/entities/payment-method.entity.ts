import { Entity, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { BillingCustomer } from './billing-customer.entity';

/** A card on file. Only what a billing page shows: never the number. */
@Entity({ tableName: 'payment_method' })
@Index({ properties: ['accountId'] })
export class PaymentMethod extends BaseEntity<'isDefault' | 'brand' | 'last4' | 'expMonth' | 'expYear'> {
  @Unique()
  @Property({ type: 'string', length: 255 })
  stripePaymentMethodId!: string;

  @ManyToOne(() => BillingCustomer, { deleteRule: 'cascade' })
  customer!: BillingCustomer;

  @Property({ type: 'string', length: 255 })
  accountId!: string;

  @Property({ type: 'string', length: 32, nullable: true })
  brand: string | null = null;

  @Property({ type: 'string', length: 4, nullable: true })
  last4: string | null = null;

  @Property({ type: 'smallint', nullable: true })
  expMonth: number | null = null;

  @Property({ type: 'smallint', nullable: true })
  expYear: number | null = null;

  @Property({ type: 'boolean' })
  isDefault = false;

  @Property({ type: 'datetime' })
  stripeUpdatedAt!: Date;
}
