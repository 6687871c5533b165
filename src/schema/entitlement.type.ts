import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'A feature or usage allowance the account has now' })
export class Entitlement {
  @Field(() => String)
  feature!: string;

  @Field(() => Boolean)
  enabled!: boolean;

  @Field(() => Int, { nullable: true, description: 'For metered features; null = unlimited or not metered' })
  limit!: number | null;

  @Field(() => Int, { nullable: true })
  used!: number | null;
}

@ObjectType({ description: 'Whether the account may use a feature now, and why not' })
export class FeatureAccess {
  @Field(() => String)
  feature!: string;

  @Field(() => Boolean)
  allowed!: boolean;

  @Field(() => String, {
    nullable: true,
    description:
      'Why access is refused (NOT_IN_PLAN, UNKNOWN_FEATURE, LIMIT_REACHED), or OVERAGE when allowed and billed as overage',
  })
  reason!: string | null;

  @Field(() => Int, { nullable: true })
  limit!: number | null;

  @Field(() => Int, { nullable: true })
  used!: number | null;

  @Field(() => Int, { nullable: true })
  remaining!: number | null;
}

@ObjectType({ description: 'Usage of one metric in the current billing period' })
export class UsageSummary {
  @Field(() => String)
  metric!: string;

  @Field(() => Int)
  used!: number;

  @Field(() => Int, { nullable: true, description: 'null = unlimited' })
  included!: number | null;

  @Field(() => Int, { nullable: true, description: 'null = unlimited' })
  remaining!: number | null;

  @Field(() => Int, {
    description: 'Usage past the included amount, billed as overage where the plan allows',
  })
  overage!: number;

  @Field(() => Date)
  periodStart!: Date;

  @Field(() => Date)
  periodEnd!: Date;
}
