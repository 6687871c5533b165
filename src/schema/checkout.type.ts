import { IsInt, IsOptional, IsUrl, Matches, Max, MaxLength, Min } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { BillingInterval } from './enums';
import { BillingSubscription } from './subscription.type';

@ObjectType({ description: 'A Stripe Checkout Session: send the user to url' })
export class CheckoutSession {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true, description: "Stripe's hosted checkout page (null once complete)" })
  url!: string | null;

  @Field(() => String, { description: 'open, complete or expired' })
  status!: string;

  @Field(() => BillingSubscription, { nullable: true, description: 'Set once the checkout is complete' })
  subscription!: BillingSubscription | null;
}

@ObjectType({ description: 'A Stripe Customer Portal session: send the user to url' })
export class PortalSession {
  @Field(() => String)
  url!: string;
}

const URL_OPTIONS = { require_tld: false, require_protocol: true, protocols: ['http', 'https'] };

@InputType()
export class CreateCheckoutSessionInput {
  @Field(() => String)
  @MaxLength(64)
  planKey!: string;

  @Field(() => BillingInterval, { defaultValue: BillingInterval.MONTH })
  interval!: BillingInterval;

  @Field(() => String, { description: 'Where Stripe sends the user after paying; session_id is appended' })
  @IsUrl(URL_OPTIONS)
  @MaxLength(2000)
  successUrl!: string;

  @Field(() => String)
  @IsUrl(URL_OPTIONS)
  @MaxLength(2000)
  cancelUrl!: string;

  @Field(() => Boolean, { nullable: true, description: "Start with the plan's trial" })
  @IsOptional()
  withTrial?: boolean | null;

  @Field(() => String, {
    nullable: true,
    description:
      "A promotion code, checked before the session is made (PROMOTION_CODE_NOT_APPLICABLE with extensions.reason when it does not apply). Without one, Stripe's page has a box where the customer may type one",
  })
  @IsOptional()
  @Matches(/^\s*[A-Za-z0-9]{1,40}\s*$/, { message: 'promotionCode must be letters and digits' })
  promotionCode?: string | null;

  @Field(() => Int, {
    nullable: true,
    description:
      'Seats wanted in all, included ones counted, for a plan priced per seat (a team buying 7 at once); the seats beyond the included ones are charged with the plan. Default: the included seats',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  seats?: number | null;

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
export class CreatePortalSessionInput {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsUrl(URL_OPTIONS)
  @MaxLength(2000)
  returnUrl?: string | null;
}
