import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';

/** What happens to a plan's included credits left unused at the end of a period (plans.yaml `rollover`). */
export enum CreditRolloverKind {
  NONE = 'none',
  PERCENT = 'percent',
  MAX = 'max',
}
registerEnumType(CreditRolloverKind, {
  name: 'CreditRolloverKind',
  description:
    'NONE: unused included credits lapse at the period end; PERCENT: that share of them (rounded down) carries over; MAX: at most that many carry over',
});

@ObjectType({ description: "What carries over of a period's unused included credits" })
export class CreditRollover {
  @Field(() => CreditRolloverKind)
  kind!: CreditRolloverKind;

  @Field(() => Int, { nullable: true, description: 'PERCENT only: the share that carries over, 1 to 100' })
  percent!: number | null;

  @Field(() => Int, { nullable: true, description: 'MAX only: the most credits that carry over' })
  max!: number | null;
}

@ObjectType({ description: 'The credits a plan includes each billing period (plans.yaml `credits`)' })
export class PlanCredits {
  @Field(() => Int, { description: 'Credits granted each billing period; 0 when the plan includes none' })
  included!: number;

  @Field(() => CreditRollover)
  rollover!: CreditRollover;
}
