import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { BillingInterval } from './enums';
import { PlanPrice } from './plan.type';

@ObjectType({ description: 'What each unit of an add-on adds to the allowance of a metric' })
export class AddonLimitGrant {
  @Field(() => String, { description: 'ai_requests, storage_mb or seats' })
  metric!: string;

  @Field(() => Int, { description: 'Units added per unit of the add-on bought' })
  added!: number;
}

@ObjectType({ description: 'A product sold beside the plan, from plans/plans.yaml `addons:`' })
export class Addon {
  @Field(() => String)
  key!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String)
  description!: string;

  @Field(() => [PlanPrice], {
    description: 'Per unit, one per interval: a subscription pays its own interval’s',
  })
  prices!: PlanPrice[];

  @Field(() => [String], { description: 'The plans that may carry it' })
  plans!: string[];

  @Field(() => Int, {
    description: 'The most units one subscription may carry (1: bought once or not at all)',
  })
  maxQuantity!: number;

  @Field(() => [String], { description: 'Features it switches on' })
  features!: string[];

  @Field(() => [AddonLimitGrant], { description: 'Allowances it adds to, per unit' })
  limits!: AddonLimitGrant[];
}

@ObjectType({ description: 'An add-on the account’s subscription carries' })
export class AccountAddon {
  @Field(() => String)
  key!: string;

  @Field(() => String)
  name!: string;

  @Field(() => Int)
  quantity!: number;

  @Field(() => Int, { description: 'Per unit per interval, in minor units of currency' })
  unitAmount!: number;

  @Field(() => String, { description: 'ISO 4217, lower case' })
  currency!: string;

  @Field(() => BillingInterval)
  interval!: BillingInterval;

  @Field(() => Date, {
    nullable: true,
    description: 'When it ends, once removed: it stays (paid) until the period end; null while it renews',
  })
  endsAt!: Date | null;

  @Field(() => Int, {
    nullable: true,
    description:
      'The units from the period end on, when fewer were asked (addAddon with a lower quantity): `quantity` stays, paid, until then; null when unchanged',
  })
  quantityAtPeriodEnd!: number | null;
}

@InputType({ description: 'An add-on to buy, or the new number of units of one the subscription has' })
export class AddAddonInput {
  @Field(() => String)
  key!: string;

  @Field(() => Int, {
    nullable: true,
    description:
      'Units (1 by default); more than now charges the rest of the period, fewer take effect at the period end (nothing refunded)',
  })
  quantity?: number | null;
}
