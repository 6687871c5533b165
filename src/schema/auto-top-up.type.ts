import { GraphQLSafeInt } from 'graphql-scalars';
import { Field, InputType, ObjectType } from 'type-graphql';

@ObjectType({
  description:
    'Automatic top-up: when the available credits fall below `belowCredits`, the pack is charged to the saved card (once per crossing)',
})
export class AutoTopUp {
  @Field(() => Boolean)
  enabled!: boolean;

  @Field(() => GraphQLSafeInt, {
    description: 'The threshold: a top-up when available credits fall below it',
  })
  belowCredits!: number;

  @Field(() => String, { description: 'The credit pack charged (creditPacks)' })
  packKey!: string;

  @Field(() => Boolean, { description: 'A charge is running now' })
  charging!: boolean;

  @Field(() => String, {
    nullable: true,
    description:
      'Why the last charge failed (card_declined, insufficient_funds, authentication_required, …); it was then turned off',
  })
  lastFailure!: string | null;

  @Field(() => Date, { nullable: true })
  lastFailureAt!: Date | null;
}

@InputType()
export class SetAutoTopUpInput {
  @Field(() => Boolean)
  enabled!: boolean;

  @Field(() => GraphQLSafeInt, { description: 'Whole credits, 1 to 1,000,000,000' })
  belowCredits!: number;

  @Field(() => String)
  packKey!: string;
}
