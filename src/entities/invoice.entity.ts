import { BigIntType, Entity, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { BillingCustomer } from './billing-customer.entity';

/** Our copy of one Stripe invoice. Amounts are integer minor units (cents) of `currency`. */
@Entity({ tableName: 'invoice' })
@Index({ properties: ['accountId', 'stripeCreatedAt'] })
@Index({
  name: 'invoice_action_required_index',
  expression: `create index "invoice_action_required_index" on "invoice" ("account_id", "stripe_created_at") where "action_required_at" is not null`,
})
export class Invoice extends BaseEntity<
  | 'number'
  | 'stripeSubscriptionId'
  | 'hostedInvoiceUrl'
  | 'invoicePdf'
  | 'billingReason'
  | 'periodStart'
  | 'periodEnd'
  | 'amountRefunded'
  | 'actionRequiredAt'
> {
  @Unique()
  @Property({ type: 'string', length: 255 })
  stripeInvoiceId!: string;

  @ManyToOne(() => BillingCustomer, { deleteRule: 'cascade' })
  customer!: BillingCustomer;

  @Property({ type: 'string', length: 255 })
  accountId!: string;

  @Property({ type: 'string', length: 255, nullable: true })
  stripeSubscriptionId: string | null = null;

  @Property({ type: 'string', length: 64, nullable: true })
  number: string | null = null;

  /** Stripe's invoice status: draft, open, paid, uncollectible or void. */
  @Property({ type: 'string', length: 32 })
  status!: string;

  @Property({ type: new BigIntType('number') })
  amountDue!: number;

  @Property({ type: new BigIntType('number') })
  amountPaid!: number;

  @Property({ type: new BigIntType('number') })
  amountRemaining!: number;

  /** What was refunded of the invoice's payments (`charge.refunded`); the invoice's status stays as it was. */
  @Property({ type: new BigIntType('number'), default: 0 })
  amountRefunded = 0;

  /** ISO 4217, lower case as Stripe sends it. */
  @Property({ type: 'string', length: 3 })
  currency!: string;

  @Property({ type: 'string', length: 64, nullable: true })
  billingReason: string | null = null;

  @Property({ type: 'datetime', nullable: true })
  periodStart: Date | null = null;

  @Property({ type: 'datetime', nullable: true })
  periodEnd: Date | null = null;

  @Property({ type: 'text', nullable: true })
  hostedInvoiceUrl: string | null = null;

  @Property({ type: 'text', nullable: true })
  invoicePdf: string | null = null;

  /**
   * When the customer's bank first asked to approve the payment (3-D Secure, `invoice.payment_action_required`).
   * While the invoice is open this is the account's pending authentication; paid or voided, it is history.
   */
  @Property({ type: 'datetime', nullable: true })
  actionRequiredAt: Date | null = null;

  @Property({ type: 'datetime' })
  stripeCreatedAt!: Date;

  @Property({ type: 'datetime' })
  stripeUpdatedAt!: Date;
}
