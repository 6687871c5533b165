import { IsOptional, IsString, IsUrl, Length, MaxLength } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { CreditBalance } from './credit.type';
import { PendingAction } from './pending-action.type';

export enum CreditPurchaseStatus {
  PAID = 'paid',
  REQUIRES_ACTION = 'requires_action',
}

registerEnumType(CreditPurchaseStatus, {
  name: 'CreditPurchaseStatus',
  description:
    "PAID: charged, the credits are in `balance`. REQUIRES_ACTION: the card's bank asks the customer to approve the payment (3-D Secure) on `pendingAction.url`; the credits come once it is paid. A declined card is an error (CARD_DECLINED), not a status",
});

const URL_OPTIONS = { require_tld: false, require_protocol: true, protocols: ['http', 'https'] };

@InputType()
export class CreateCreditCheckoutSessionInput {
  @Field(() => String, { description: 'A pack of `creditPacks`, e.g. credits_10k' })
  @IsString()
  @Length(1, 64)
  packKey!: string;

  @Field(() => String, { description: 'Where Stripe sends the user after paying (an allowed origin)' })
  @IsUrl(URL_OPTIONS)
  @MaxLength(2000)
  successUrl!: string;

  @Field(() => String)
  @IsUrl(URL_OPTIONS)
  @MaxLength(2000)
  cancelUrl!: string;
}

@ObjectType({
  description:
    "A Stripe Checkout page selling one credit pack: send the user to url. The credits come when Stripe says the pack's invoice is paid (balanceUpdated)",
})
export class CreditCheckoutSession {
  @Field(() => ID)
  sessionId!: string;

  @Field(() => String, { nullable: true })
  url!: string | null;
}

@InputType()
export class PurchaseCreditsInput {
  @Field(() => String, { description: 'A pack of `creditPacks`, e.g. credits_10k' })
  @IsString()
  @Length(1, 64)
  packKey!: string;

  @Field(() => String, {
    nullable: true,
    description:
      'The same key again (within 24 hours) is the same purchase: one invoice, one charge. Without one, every call is a new purchase',
  })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  idempotencyKey?: string | null;
}

@ObjectType({ description: 'A credit pack charged to the saved card, as a Stripe invoice' })
export class CreditPurchase {
  @Field(() => CreditPurchaseStatus)
  status!: CreditPurchaseStatus;

  @Field(() => Int, { description: 'Credits the pack grants' })
  credits!: number;

  @Field(() => Int, { description: "The invoice's total (tax included), in minor units of `currency`" })
  amount!: number;

  @Field(() => String, { description: 'ISO 4217, lower case' })
  currency!: string;

  @Field(() => ID, { description: 'The Stripe invoice of the purchase (in_…)' })
  invoiceId!: string;

  @Field(() => PendingAction, { nullable: true, description: 'Set when status is REQUIRES_ACTION' })
  pendingAction!: PendingAction | null;

  @Field(() => CreditBalance, { description: "The account's credits after the purchase" })
  balance!: CreditBalance;
}
