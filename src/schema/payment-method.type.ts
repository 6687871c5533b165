import { Field, ID, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'A card on file (never its number)' })
export class PaymentMethod {
  @Field(() => ID, { description: 'The Stripe payment method id (pm_…)' })
  id!: string;

  @Field(() => String, { nullable: true })
  brand!: string | null;

  @Field(() => String, { nullable: true })
  last4!: string | null;

  @Field(() => Int, { nullable: true })
  expMonth!: number | null;

  @Field(() => Int, { nullable: true })
  expYear!: number | null;

  @Field(() => Boolean)
  isDefault!: boolean;
}
