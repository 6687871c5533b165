import { MaxLength, Min, MinLength } from 'class-validator';
import { Field, ID, InputType, Int, registerEnumType } from 'type-graphql';

export enum RefundDestination {
  CARD = 'card',
  CUSTOMER_BALANCE = 'customer_balance',
}
registerEnumType(RefundDestination, {
  name: 'RefundDestination',
  description:
    "Where a refund goes: back to the card, or to the customer's credit balance (used by the next invoices)",
});

export enum RefundReason {
  DUPLICATE = 'duplicate',
  FRAUDULENT = 'fraudulent',
  ORDER_CHANGE = 'order_change',
  PRODUCT_UNSATISFACTORY = 'product_unsatisfactory',
}
registerEnumType(RefundReason, { name: 'RefundReason', description: "Stripe's credit note reasons" });

@InputType()
export class RefundInvoiceInput {
  @Field(() => ID, { description: 'The Stripe invoice id (in_…)' })
  @MaxLength(255)
  invoiceId!: string;

  @Field(() => Int, {
    description: 'Minor units of the invoice currency; at most what its payments still hold',
  })
  @Min(1)
  amount!: number;

  @Field(() => RefundReason, { nullable: true })
  reason?: RefundReason | null;

  @Field(() => RefundDestination, { defaultValue: RefundDestination.CARD })
  to!: RefundDestination;

  @Field(() => String, {
    description:
      'Your key for this refund (e.g. a support ticket id): a retry with the same key never refunds twice',
  })
  @MinLength(1)
  @MaxLength(200)
  idempotencyKey!: string;
}
