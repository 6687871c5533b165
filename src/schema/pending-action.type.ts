import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum PendingActionKind {
  AUTHENTICATE = 'authenticate',
}
registerEnumType(PendingActionKind, {
  name: 'PendingActionKind',
  description: "What the customer must do: AUTHENTICATE, approve a payment on their bank's 3-D Secure page",
});

@ObjectType({
  description:
    'Something only the customer can do before a payment completes. Send the browser to `url`; `accountUpdated` tells the page the outcome',
})
export class PendingAction {
  @Field(() => PendingActionKind)
  kind!: PendingActionKind;

  @Field(() => String, {
    description:
      "Stripe's hosted invoice page for the invoice waiting for payment: it runs the bank's challenge and takes another card if it fails",
  })
  url!: string;

  @Field(() => Date, {
    nullable: true,
    description:
      'When the approval can no longer be given: a new subscription expires (Stripe: 23 hours after it was created), a plan change is dropped (its `pendingChange.expiresAt`); null for a renewal, which Stripe retries until its grace period ends',
  })
  expiresAt!: Date | null;

  @Field(() => ID, { description: 'The Stripe invoice waiting for payment (in_…)' })
  invoiceId!: string;

  @Field(() => Int, { description: 'What the payment is for, in minor units of `currency`' })
  amountDue!: number;

  @Field(() => String, { description: 'ISO 4217, lower case' })
  currency!: string;
}
