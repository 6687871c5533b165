import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { GraphQLSafeInt } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';

@ObjectType({
  description:
    'What the account may owe beyond its plan in the current usage period (AI credits billed as overage and automatic top-ups), and what it has spent. Amounts are integer minor units of `currency`',
})
export class SpendLimit {
  @Field(() => Int, {
    nullable: true,
    description:
      'The limit per usage period (cents); null: no limit. 0 allows no overage and no automatic top-up',
  })
  monthlyCents!: number | null;

  @Field(() => String, { description: 'ISO 4217, lower case: the currency the account is billed in' })
  currency!: string;

  @Field(() => Int, { description: 'Spent this period: overageCents + topUpCents' })
  spentCents!: number;

  @Field(() => Int, {
    nullable: true,
    description: 'What may still be spent this period: limit − spent, never below 0; null without a limit',
  })
  remainingCents!: number | null;

  @Field(() => GraphQLSafeInt, { description: 'Credits billed as overage this period' })
  overageCredits!: number;

  @Field(() => Int, {
    description: 'What those credits add to the next invoice (rounded as Stripe rounds a line)',
  })
  overageCents!: number;

  @Field(() => Int, { description: 'Automatic top-ups charged this period (pack amounts, before tax)' })
  topUpCents!: number;

  @Field(() => GraphQLSafeInt, {
    description: 'Credits calls in progress hold beyond the balance (billed only if the calls use them)',
  })
  heldOverageCredits!: number;

  @Field(() => Boolean, {
    description:
      'Whether calls the credits cannot cover are billed as overage now (the plan bills it and the subscription is active); false: they are refused',
  })
  overageBilled!: boolean;

  @Field(() => String, {
    nullable: true,
    description: 'The price of one credit beyond the balance, in minor units (a decimal string, e.g. "0.12")',
  })
  unitAmountDecimal!: string | null;

  @Field(() => Date, { description: 'The usage period the figures are for' })
  periodStart!: Date;

  @Field(() => Date)
  periodEnd!: Date;
}

@InputType()
export class SetSpendLimitInput {
  @Field(() => Int, {
    nullable: true,
    description:
      'The most the account may owe beyond its plan per usage period, in minor units (cents) of its currency, 0 to 1,000,000,000; null removes the limit',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  monthlyCents?: number | null;

  @Field(() => ID, { nullable: true, description: 'Admins only: another account than the caller’s' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  accountId?: string | null;
}
