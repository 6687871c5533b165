import { Field, Int, ObjectType } from 'type-graphql';
import { TaxSummary } from './tax.type';

@ObjectType()
export class InvoicePreviewLine {
  @Field(() => String)
  description!: string;

  @Field(() => Int, { description: 'Cents; negative for a credit' })
  amount!: number;
}

@ObjectType({ description: 'What a proposed subscription change would charge', implements: TaxSummary })
export class InvoicePreview extends TaxSummary {
  @Field(() => Int, { description: 'In cents: what the previewed invoice charges' })
  amountDue!: number;

  @Field(() => String)
  currency!: string;

  @Field(() => Int, { description: 'In cents: Σ of the lines, before discounts and tax' })
  subtotal!: number;

  @Field(() => Int, { description: 'In cents: Σ of the taxes (Stripe Tax; 0 when tax is off)' })
  tax!: number;

  @Field(() => Int, { description: 'In cents: subtotal − discount + tax' })
  total!: number;

  @Field(() => Int, {
    description:
      "In cents: what the subscription's discounts (promotion codes) take off the previewed invoice's lines; prorations are already net of a percent-off discount and add nothing here",
  })
  discount!: number;

  @Field(() => [InvoicePreviewLine])
  lines!: InvoicePreviewLine[];

  @Field(() => Date, {
    nullable: true,
    description: 'When it is charged: now for an immediate upgrade, else at renewal',
  })
  nextPaymentAt!: Date | null;

  @Field(() => Boolean, {
    description:
      'True when the change is charged at once (an immediate upgrade), false when it is billed at the next renewal. Use it rather than comparing nextPaymentAt with the browser’s clock, which need not be billing’s',
  })
  chargedNow!: boolean;
}
