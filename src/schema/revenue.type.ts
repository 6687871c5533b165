import { GraphQLSafeInt } from 'graphql-scalars';
import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'How many subscriptions of one plan are in a state' })
export class PlanSubscriptionCount {
  @Field(() => String, { description: 'The plan key of plans/plans.yaml' })
  planKey!: string;

  @Field(() => Int)
  count!: number;
}

@ObjectType({
  description:
    'Admin: revenue figures from the stored subscriptions and the plan catalog (docs/monitoring.md explains each)',
})
export class RevenueSummary {
  @Field(() => GraphQLSafeInt, {
    description:
      'Monthly recurring revenue in minor units (cents) of currency: active and past-due subscriptions at their plan price, yearly ones as the yearly total / 12 rounded half up once; never trialing',
  })
  mrr!: number;

  @Field(() => String, { description: 'ISO 4217, lower case: the catalog currency' })
  currency!: string;

  @Field(() => [PlanSubscriptionCount], {
    description: 'Subscriptions with status active, by plan, in catalog order',
  })
  activeSubscriptionsByPlan!: PlanSubscriptionCount[];

  @Field(() => Int, { description: 'Subscriptions in a trial (not in mrr)' })
  trialing!: number;

  @Field(() => Int, { description: 'Subscriptions past due (in mrr while Stripe retries the payment)' })
  pastDue!: number;

  @Field(() => Int, { description: 'Subscriptions that ended (status canceled) since periodStart' })
  churnedThisPeriod!: number;

  @Field(() => Date, { description: 'Start of the current calendar month in UTC: the churn period' })
  periodStart!: Date;

  @Field(() => Int, {
    description:
      'Active or past-due subscriptions left out of mrr: the catalog has no price for their plan and interval (enterprise custom prices), or they pay in another currency than the base one (no exchange rate is kept)',
  })
  unpricedSubscriptions!: number;
}
