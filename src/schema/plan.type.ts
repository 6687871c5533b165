import { Field, Int, ObjectType } from 'type-graphql';
import { BillingInterval, OverLimitBehavior } from './enums';
import { PlanCredits } from './plan-credits.type';

@ObjectType({ description: 'An amount of money: integer minor units of its currency ($19.00 is 1900 usd)' })
export class PriceAmount {
  @Field(() => Int, {
    description: "In minor units of currency (by the currency's own exponent: ¥500 is 500)",
  })
  amount!: number;

  @Field(() => String, { description: 'ISO 4217, lower case' })
  currency!: string;
}

@ObjectType({ description: 'A self-serve price of a plan' })
export class PlanPrice {
  @Field(() => BillingInterval)
  interval!: BillingInterval;

  @Field(() => Int, {
    description:
      "In minor units of currency: the currency asked for (`plans(currency:)`), else the one the signed-in account pays in (`Account.currency`), else the catalog's base currency",
  })
  amount!: number;

  @Field(() => String, { description: 'ISO 4217, lower case: the currency of amount' })
  currency!: string;

  @Field(() => [PriceAmount], {
    description: 'The price in every currency the catalog sells in, the base first',
  })
  amounts!: PriceAmount[];

  @Field(() => String, { description: "The Stripe price's lookup key" })
  lookupKey!: string;
}

@ObjectType({ description: 'What each unit over the allowance of a metric costs (billed at the period end)' })
export class OveragePrice {
  @Field(() => String, {
    description:
      'ai_requests, storage_mb or seats; ai_credits for credits a model call needed beyond the balance',
  })
  metric!: string;

  @Field(() => String, { description: "The metric's unit, e.g. request or MB" })
  unit!: string;

  @Field(() => BillingInterval, { description: 'The subscription interval this price is billed with' })
  interval!: BillingInterval;

  @Field(() => Int, {
    nullable: true,
    description: 'Per unit in whole minor units (cents); null when the price has sub-cent precision',
  })
  unitAmount!: number | null;

  @Field(() => String, { description: 'Per unit in minor units as a decimal string ("0.5" is half a cent)' })
  unitAmountDecimal!: string;

  @Field(() => String, { description: "ISO 4217, lower case: the same currency as the plan's prices" })
  currency!: string;
}

@ObjectType({ description: 'How a plan priced per seat sells seats (plans/plans.yaml `seats`)' })
export class PlanSeats {
  @Field(() => Int, { description: 'Seats the plan’s price includes' })
  included!: number;

  @Field(() => Int, {
    description: 'The most seats a subscription to the plan may have, included ones counted',
  })
  maximum!: number;

  @Field(() => [PlanPrice], { description: 'What one seat beyond the included ones costs, per interval' })
  prices!: PlanPrice[];
}

@ObjectType({ description: 'A feature a plan switches on or off' })
export class PlanFeature {
  @Field(() => String)
  key!: string;

  @Field(() => Boolean)
  enabled!: boolean;
}

@ObjectType({ description: 'A usage limit of a plan' })
export class PlanLimit {
  @Field(() => String, {
    description:
      'ai_requests, storage_mb or seats; ai_credits for credits a model call needed beyond the balance',
  })
  metric!: string;

  @Field(() => Int, {
    nullable: true,
    description: 'Included per billing period (counters) or at a time; null = unlimited',
  })
  included!: number | null;

  @Field(() => OverLimitBehavior)
  overLimit!: OverLimitBehavior;
}

@ObjectType({ description: 'A CODITECT plan, from plans/plans.yaml' })
export class Plan {
  @Field(() => String)
  key!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String)
  description!: string;

  @Field(() => [PlanPrice], { description: 'Empty for free (no price) and sales-led plans' })
  prices!: PlanPrice[];

  /** Not a field: the currency the prices are shown in when the plan is an account's (null: the caller's). */
  pricedIn!: string | null;

  @Field(() => [PlanFeature])
  features!: PlanFeature[];

  @Field(() => [PlanLimit])
  limits!: PlanLimit[];

  @Field(() => Int)
  trialDays!: number;

  @Field(() => Boolean, { description: 'Sold by sales: not available to self-serve checkout' })
  salesLed!: boolean;

  @Field(() => PlanSeats, {
    nullable: true,
    description: 'Per-seat pricing, or null (seats are a fixed limit)',
  })
  seats!: PlanSeats | null;

  @Field(() => PlanCredits, {
    description: 'Credits for AI model calls included each billing period, and what rolls over',
  })
  credits!: PlanCredits;
}
