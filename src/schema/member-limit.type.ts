import { GraphQLSafeInt } from 'graphql-scalars';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { PageInfo } from './invoice.type';

@ObjectType({
  description:
    'A team member’s credits this calendar month (UTC), in whole credits (SafeInt: they may pass GraphQL Int’s 2^31)',
})
export class MemberCreditUsage {
  @Field(() => String, {
    description: 'The calling service’s id of the member (`memberId` on a reservation)',
  })
  memberId!: string;

  @Field(() => GraphQLSafeInt, {
    nullable: true,
    description: 'Whole credits the member may use per month; null: no limit (the account’s balance only)',
  })
  monthlyCredits!: number | null;

  @Field(() => GraphQLSafeInt, { description: 'What the member’s finished work used this month' })
  used!: number;

  @Field(() => GraphQLSafeInt, { description: 'What the member’s work in progress holds' })
  held!: number;

  @Field(() => GraphQLSafeInt, {
    nullable: true,
    description:
      'What the member may still start this month: limit − used − held, never below 0; null without a limit',
  })
  remaining!: number | null;

  @Field(() => Date, { description: 'The first instant of the month (UTC)' })
  periodStart!: Date;

  @Field(() => Date, { description: 'When the month ends and the member’s use starts again from 0' })
  periodEnd!: Date;
}

@ObjectType()
export class MemberCreditUsageConnection {
  @Field(() => [MemberCreditUsage], { description: 'By member id' })
  nodes!: MemberCreditUsage[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@InputType()
export class SetMemberLimitInput {
  @Field(() => String, {
    description: 'The member: 1 to 128 printable ASCII characters, as the calling service names them',
  })
  @IsString()
  @Length(1, 128)
  memberId!: string;

  @Field(() => GraphQLSafeInt, {
    nullable: true,
    description: 'Whole credits per calendar month (UTC), 0 to 1,000,000,000,000; null removes the limit',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000_000_000)
  monthlyCredits?: number | null;

  @Field(() => ID, { nullable: true, description: 'Admins only: another account than the caller’s' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  accountId?: string | null;
}
