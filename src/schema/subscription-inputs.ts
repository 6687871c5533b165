import { IsOptional, Matches, MaxLength } from 'class-validator';
import { Field, ID, InputType } from 'type-graphql';
import { ApplyAt, BillingInterval, ProrationBehavior } from './enums';

@InputType()
export class CreateSubscriptionInput {
  @Field(() => String)
  @MaxLength(64)
  planKey!: string;

  @Field(() => BillingInterval, { defaultValue: BillingInterval.MONTH })
  interval!: BillingInterval;

  @Field(() => String, { nullable: true, description: 'A Stripe payment method (pm_…) to attach and charge' })
  @IsOptional()
  @Matches(/^pm_\w+$/, { message: 'paymentMethodId must be a Stripe payment method id (pm_…)' })
  paymentMethodId?: string | null;

  @Field(() => Boolean, { nullable: true })
  @IsOptional()
  withTrial?: boolean | null;

  @Field(() => ID, { nullable: true, description: 'Admin only: subscribe this account' })
  @IsOptional()
  @MaxLength(255)
  accountId?: string | null;

  @Field(() => String, { nullable: true, description: 'Admin only: a custom Stripe price (sales-led plans)' })
  @IsOptional()
  @Matches(/^price_\w+$/, { message: 'customPriceId must be a Stripe price id (price_…)' })
  customPriceId?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "The currency to pay in (usd, eur). Only the account's first choice counts: once it pays in one, another is refused (CURRENCY_MISMATCH). Default: the one kept, else the billing country's (euro area: eur), else the base",
  })
  @IsOptional()
  @Matches(/^\s*[A-Za-z]{3}\s*$/, { message: 'currency must be a three-letter ISO 4217 code, e.g. eur' })
  currency?: string | null;
}

@InputType()
export class ChangeSubscriptionInput {
  @Field(() => String)
  @MaxLength(64)
  planKey!: string;

  @Field(() => BillingInterval, { nullable: true, description: 'Defaults to the current interval' })
  @IsOptional()
  interval?: BillingInterval | null;

  @Field(() => ProrationBehavior, {
    nullable: true,
    description:
      'Defaults to ALWAYS_INVOICE for an upgrade, CREATE_PRORATIONS otherwise; NONE is for admins only',
  })
  @IsOptional()
  prorationBehavior?: ProrationBehavior | null;

  @Field(() => ApplyAt, {
    nullable: true,
    description:
      'Defaults to IMMEDIATELY for an upgrade, PERIOD_END for a downgrade or a switch of interval. Customers may not downgrade IMMEDIATELY (admins may); nobody switches interval IMMEDIATELY',
  })
  @IsOptional()
  applyAt?: ApplyAt | null;

  @Field(() => ID, { nullable: true, description: 'Admin only: change this account’s subscription' })
  @IsOptional()
  @MaxLength(255)
  accountId?: string | null;
}

@InputType()
export class CancelSubscriptionInput {
  @Field(() => Boolean, {
    defaultValue: true,
    description:
      'Keep access until the period ends (default), or end now: the period’s usage is billed on a final invoice, the unused time is not refunded',
  })
  atPeriodEnd!: boolean;

  @Field(() => ID, { nullable: true, description: 'Admin only: cancel this account’s subscription' })
  @IsOptional()
  @MaxLength(255)
  accountId?: string | null;
}
