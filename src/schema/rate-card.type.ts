import { Field, Int, ObjectType } from 'type-graphql';
import { PriceAmount } from './plan.type';

@ObjectType({ description: 'A pack of prepaid credits, bought once (plans.yaml `creditPacks`)' })
export class CreditPack {
  @Field(() => String, { description: 'What createCreditCheckoutSession and purchaseCredits take' })
  key!: string;

  @Field(() => String)
  name!: string;

  @Field(() => Int, { description: 'Credits the pack grants' })
  credits!: number;

  @Field(() => PriceAmount, {
    description:
      "In the currency asked for (`creditPacks(currency:)`), else the one the signed-in account pays in, else the catalog's base currency",
  })
  price!: PriceAmount;

  @Field(() => [PriceAmount], {
    description: 'The price in every currency the catalog sells in, the base first',
  })
  amounts!: PriceAmount[];

  @Field(() => String, { description: "The lookup key of the pack's one-time Stripe price" })
  lookupKey!: string;

  @Field(() => Int, {
    nullable: true,
    description: 'Days after the purchase its credits expire; null: they never expire',
  })
  expiresAfterDays!: number | null;
}

@ObjectType({ description: 'A price of a model in credits, from a moment on' })
export class ModelPriceVersion {
  @Field(() => Int, { description: 'Credits per million input (prompt) tokens' })
  inputCreditsPerMillion!: number;

  @Field(() => Int, { description: 'Credits per million output (completion) tokens' })
  outputCreditsPerMillion!: number;

  @Field(() => Date, { description: 'The moment this price applies from (calls reserved from then on)' })
  effectiveFrom!: Date;
}

@ObjectType({
  description:
    'What a model call costs now (plans.yaml `models`): ceil((input × inputCreditsPerMillion + output × outputCreditsPerMillion) / 1,000,000) credits, one rounding up per call',
})
export class ModelPrice {
  @Field(() => String, { description: 'The model key calling services send, e.g. claude-sonnet-4' })
  model!: string;

  @Field(() => Int, { description: 'Credits per million input (prompt) tokens' })
  inputCreditsPerMillion!: number;

  @Field(() => Int, { description: 'Credits per million output (completion) tokens' })
  outputCreditsPerMillion!: number;

  @Field(() => Date, { description: 'The moment the price now in effect started' })
  effectiveFrom!: Date;

  @Field(() => ModelPriceVersion, {
    nullable: true,
    description: 'The next price, when one is scheduled: calls reserved from its effectiveFrom on pay it',
  })
  next!: ModelPriceVersion | null;
}
