import { Field, ID, ObjectType } from 'type-graphql';
import { BillingInterval, SubscriptionStatus } from './enums';
import { Plan } from './plan.type';
import { SubscriptionSeats } from './seats.type';

@ObjectType({ description: 'A plan change waiting for the end of the current period' })
export class ScheduledChange {
  @Field(() => Plan)
  plan!: Plan;

  @Field(() => BillingInterval)
  interval!: BillingInterval;

  @Field(() => Date)
  effectiveAt!: Date;
}

@ObjectType({
  description:
    "A plan change made now whose prorated charge waits for the customer's bank approval (3-D Secure): it takes effect once the payment succeeds (see `pendingAction`), and is dropped unpaid at `expiresAt`",
})
export class PendingChange {
  @Field(() => Plan, { description: 'The plan the subscription moves to once the payment succeeds' })
  plan!: Plan;

  @Field(() => BillingInterval)
  interval!: BillingInterval;

  @Field(() => Date, {
    description:
      'When Stripe drops the change unpaid (at most 23 hours after it was asked); the plan stays as it is',
  })
  expiresAt!: Date;
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

  @Field(() => PendingChange, {
    nullable: true,
    description:
      "A change made now that waits for the payment's approval; `plan` stays the current one until then",
  })
  pendingChange!: PendingChange | null;

  @Field(() => SubscriptionSeats, {
    nullable: true,
    description: 'Seats bought and taken, for a plan priced per seat; null otherwise',
  })
  seats!: SubscriptionSeats | null;
}
