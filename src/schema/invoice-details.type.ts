import { Field, ID, Int, ObjectType } from 'type-graphql';
import { TaxSummary } from './tax.type';
import { Invoice } from './invoice.type';

@ObjectType({ description: 'One line of an invoice; amounts in minor units (cents) of its currency' })
export class InvoiceLine {
  @Field(() => String)
  description!: string;

  @Field(() => Int, {
    nullable: true,
    description: "Units billed: the plan's quantity, or the period's metered usage (null: none)",
  })
  quantity!: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Price per unit in whole minor units; null for a sub-cent price (see unitAmountDecimal)',
  })
  unitAmount!: number | null;

  @Field(() => String, {
    nullable: true,
    description: 'Price per unit in minor units as a decimal string ("0.5" is half a cent)',
  })
  unitAmountDecimal!: string | null;

  @Field(() => Int, { description: 'Before discounts and tax; negative for a credit (unused time)' })
  amount!: number;

  @Field(() => Int, { description: 'What discounts took off this line' })
  discountAmount!: number;

  @Field(() => Int, { description: 'Tax on this line' })
  taxAmount!: number;

  @Field(() => Date)
  periodStart!: Date;

  @Field(() => Date)
  periodEnd!: Date;

  @Field(() => Boolean, {
    description: 'A proration of a plan change (credit for unused time or charge for the rest)',
  })
  proration!: boolean;
}

@ObjectType({
  description: "The next bill: Stripe's preview of the live subscription's next invoice",
  implements: TaxSummary,
})
export class UpcomingInvoice extends TaxSummary {
  @Field(() => Date, {
    nullable: true,
    description: 'When it is charged: the period end (trial end while trialing)',
  })
  date!: Date | null;

  @Field(() => Date, { description: 'The window the invoice looks back over (its usage lines)' })
  periodStart!: Date;

  @Field(() => Date)
  periodEnd!: Date;

  @Field(() => [InvoiceLine], {
    description:
      'The plan fee, pending prorations, usage so far with its unit price, with discounts and tax per line',
  })
  lines!: InvoiceLine[];

  @Field(() => Int)
  subtotal!: number;

  @Field(() => Int, { description: 'Σ of discounts (positive)' })
  discount!: number;

  @Field(() => Int)
  tax!: number;

  @Field(() => Int)
  total!: number;

  @Field(() => Int, { description: 'What will be charged: the total less the customer’s credit balance' })
  amountDue!: number;

  @Field(() => String)
  currency!: string;
}

@ObjectType({ description: 'A credit note: what was given back of an invoice, and where; minor units' })
export class CreditNote {
  @Field(() => ID, { description: 'The Stripe credit note id (cn_…)' })
  id!: string;

  @Field(() => String)
  number!: string;

  @Field(() => Int)
  amount!: number;

  @Field(() => Int, { description: 'Refunded to the card' })
  refundedToCard!: number;

  @Field(() => Int, { description: "Credited to the customer's balance (used by the next invoices)" })
  creditedToBalance!: number;

  @Field(() => Int, { description: 'Given back outside Stripe' })
  outOfBand!: number;

  @Field(() => String, {
    nullable: true,
    description: 'duplicate, fraudulent, order_change or product_unsatisfactory',
  })
  reason!: string | null;

  @Field(() => String, { description: 'issued or void' })
  status!: string;

  @Field(() => String, { description: "Stripe's PDF of the credit note" })
  pdf!: string;

  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType({
  description: 'An invoice in full: its lines and totals as Stripe has them now',
  implements: TaxSummary,
})
export class InvoiceDetails extends TaxSummary {
  @Field(() => Invoice, { description: 'The summary the invoice history shows' })
  invoice!: Invoice;

  @Field(() => [InvoiceLine], { description: 'Every line (all pages of them)' })
  lines!: InvoiceLine[];

  @Field(() => Int)
  subtotal!: number;

  @Field(() => Int, { description: 'Σ of discounts (positive)' })
  discount!: number;

  @Field(() => Int)
  tax!: number;

  @Field(() => Int)
  total!: number;

  @Field(() => Int)
  amountDue!: number;

  @Field(() => Int)
  amountPaid!: number;

  @Field(() => Int)
  amountRemaining!: number;

  @Field(() => Int, {
    description: 'Σ of credit notes issued after payment: refunds to the card and credits to the balance',
  })
  creditedAfterPayment!: number;

  @Field(() => [CreditNote], { description: 'Refunds and credits of this invoice, newest first' })
  creditNotes!: CreditNote[];

  @Field(() => String)
  currency!: string;

  @Field(() => Date, {
    nullable: true,
    description: 'For invoices sent to be paid (not charged automatically)',
  })
  dueDate!: Date | null;

  @Field(() => Int, { description: 'Payment attempts so far' })
  attemptCount!: number;

  @Field(() => Date, {
    nullable: true,
    description: 'When Stripe tries the card again (null: no retry planned)',
  })
  nextPaymentAttempt!: Date | null;
}
