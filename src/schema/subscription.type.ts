import { Field, ID, ObjectType } from 'type-graphql';
import { BillingInterval, SubscriptionStatus } from './enums';
import { Plan } from './plan.type';

@ObjectType({ description: 'A plan change waiting for the end of the current period' })
export class ScheduledChange {
  @Field(() => Plan)
  plan!: Plan;

  @Field(() => BillingInterval)
  interval!: BillingInterval;

  @Field(() => Date)
  effectiveAt!: Date;
}

@ObjectType({ description: "The account's Stripe subscription" })
export class BillingSubscription {
  @Field(() => ID, { description: 'The Stripe subscription id (sub_…)' })
  id!: string;

  @Field(() => SubscriptionStatus)
  status!: SubscriptionStatus;

  @Field(() => Plan)
  plan!: Plan;

  @Field(() => BillingInterval)
  interval!: BillingInterval;

  @Field(() => Date, { nullable: true })
  currentPeriodStart!: Date | null;

  @Field(() => Date, { nullable: true })
  currentPeriodEnd!: Date | null;

  @Field(() => Boolean, {
    description: 'Access continues until currentPeriodEnd, then the subscription ends',
  })
  cancelAtPeriodEnd!: boolean;

  @Field(() => Date, { nullable: true })
  canceledAt!: Date | null;

  @Field(() => Date, { nullable: true })
  trialEnd!: Date | null;

  @Field(() => ScheduledChange, { nullable: true })
  scheduledChange!: ScheduledChange | null;
}
