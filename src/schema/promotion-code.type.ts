import { Matches } from 'class-validator';
import { Field, Float, InputType, Int, ObjectType } from 'type-graphql';

@ObjectType({
  description:
    'A discount on the subscription: it applies to the invoices after it was added, for its duration',
})
export class SubscriptionDiscount {
  @Field(() => String, {
    nullable: true,
    description: 'The promotion code it came from, as Stripe stores it',
  })
  code!: string | null;

  @Field(() => String, { nullable: true, description: "The coupon's name (the offer)" })
  name!: string | null;

  @Field(() => Float, { nullable: true, description: 'Percent taken off each discounted line (1–100)' })
  percentOff!: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Amount taken off each invoice, in minor units of currency',
  })
  amountOff!: number | null;

  @Field(() => String, { nullable: true, description: 'The currency of amountOff (ISO 4217, lower case)' })
  currency!: string | null;

  @Field(() => String, {
    description: 'once (the next invoice), repeating (until endsAt) or forever',
  })
  duration!: string;

  @Field(() => Date, { nullable: true, description: 'When a repeating discount stops applying' })
  endsAt!: Date | null;
}

@InputType()
export class ApplyPromotionCodeInput {
  @Field(() => String, { description: 'What the customer typed (letters and digits, any case)' })
  @Matches(/^\s*[A-Za-z0-9]{1,40}\s*$/, { message: 'code must be letters and digits' })
  code!: string;
}
