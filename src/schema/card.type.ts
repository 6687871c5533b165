import { IsUrl, MaxLength } from 'class-validator';
import { Field, ID, InputType, ObjectType } from 'type-graphql';

@ObjectType({
  description:
    'A Stripe Checkout page in setup mode that saves a card to the account: redirect the user to its url',
})
export class PaymentMethodSetupSession {
  @Field(() => ID, { description: 'The Checkout Session id (cs_…)' })
  id!: string;

  @Field(() => String, { description: "Stripe's hosted page where the user enters the card" })
  url!: string;
}

@ObjectType({
  description:
    'A Stripe SetupIntent that saves a card to the account, for a page that collects the card with Stripe Elements instead of the hosted page',
})
export class PaymentMethodSetupIntent {
  @Field(() => ID, { description: 'The SetupIntent id (seti_…)' })
  id!: string;

  @Field(() => String, {
    description:
      'What Stripe.js takes to confirm it (`stripe.confirmSetup` / `confirmCardSetup`); a credential of this one intent: do not log or store it',
  })
  clientSecret!: string;
}

const URL_OPTIONS = { require_tld: false, require_protocol: true, protocols: ['http', 'https'] };

@InputType()
export class CreatePaymentMethodSetupSessionInput {
  @Field(() => String, {
    description: 'Where Stripe sends the user once the card is saved (allowed origins only)',
  })
  @IsUrl(URL_OPTIONS)
  @MaxLength(2000)
  successUrl!: string;

  @Field(() => String, { description: 'Where Stripe sends the user who gives up (allowed origins only)' })
  @IsUrl(URL_OPTIONS)
  @MaxLength(2000)
  cancelUrl!: string;
}
