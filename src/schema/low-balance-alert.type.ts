import { GraphQLSafeInt } from 'graphql-scalars';
import { Field, InputType, ObjectType } from 'type-graphql';

@ObjectType({
  description:
    'The low-balance mail: when the available credits fall below `belowCredits`, the customer is mailed once (again only after they were back at or above it)',
})
export class LowBalanceAlert {
  @Field(() => GraphQLSafeInt, {
    nullable: true,
    description:
      'The threshold in credits; null when the mail is off (turned off, or the default on a plan that includes no credits)',
  })
  belowCredits!: number | null;

  @Field(() => Boolean, {
    description:
      'The plan’s default (20 % of the period’s included credits, rounded down): the customer never set one',
  })
  isDefault!: boolean;
}

@InputType()
export class SetLowBalanceAlertInput {
  @Field(() => GraphQLSafeInt, {
    nullable: true,
    description: 'Whole credits, 0 to 1,000,000,000; null or 0 turns the mail off',
  })
  belowCredits!: number | null;
}
