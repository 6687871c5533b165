import { Field, ID, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'An invoice; amounts in minor units (cents) of currency' })
export class Invoice {
  @Field(() => ID, { description: 'The Stripe invoice id (in_…)' })
  id!: string;

  @Field(() => String, { nullable: true })
  number!: string | null;

  @Field(() => String, { description: 'draft, open, paid, uncollectible or void' })
  status!: string;

  @Field(() => Int)
  amountDue!: number;

  @Field(() => Int)
  amountPaid!: number;

  @Field(() => Int, { description: 'What is still to be paid' })
  amountRemaining!: number;

  @Field(() => String, {
    nullable: true,
    description: 'The subscription it bills (sub_…), an ended one included; null for a one-off invoice',
  })
  subscriptionId!: string | null;

  @Field(() => Int, {
    description:
      'What was refunded of the payments of this invoice (0 when nothing was); the status stays paid after a refund',
  })
  amountRefunded!: number;

  @Field(() => String)
  currency!: string;

  @Field(() => Date, { nullable: true })
  periodStart!: Date | null;

  @Field(() => Date, { nullable: true })
  periodEnd!: Date | null;

  @Field(() => String, { nullable: true })
  hostedInvoiceUrl!: string | null;

  @Field(() => String, { nullable: true })
  invoicePdf!: string | null;

  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType()
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Pass as `after` for the next page' })
  endCursor!: string | null;
}

@ObjectType()
export class InvoiceConnection {
  @Field(() => [Invoice])
  nodes!: Invoice[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
