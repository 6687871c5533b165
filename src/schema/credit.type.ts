import { IsDate, IsInt, IsOptional, IsString, Length, Max, MaxLength, Min, MinLength } from 'class-validator';
import { GraphQLSafeInt } from 'graphql-scalars';
import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo } from './invoice.type';
import { IsAccountIdInput } from './account-id';

/** What a ledger entry records (upper-cased as GraphQL enums are). */
export enum CreditEntryKind {
  GRANT = 'grant',
  PURCHASE = 'purchase',
  INCLUDED = 'included',
  ROLLOVER = 'rollover',
  BURN = 'burn',
  EXPIRY = 'expiry',
  REFUND = 'refund',
  ADJUSTMENT = 'adjustment',
}

registerEnumType(CreditEntryKind, {
  name: 'CreditEntryKind',
  description: 'What changed the credits: a grant, purchase, included or rollover adds; the rest take',
});

@ObjectType({ description: 'Credits that expire soon: the soonest expiry within 7 days' })
export class ExpiringCredits {
  @Field(() => GraphQLSafeInt, { description: 'Whole credits left that expire at `at`' })
  credits!: number;

  @Field(() => Date)
  at!: Date;
}

@ObjectType({
  description:
    'An account’s prepaid credits, in whole credits (SafeInt: a balance may pass GraphQL Int’s 2^31)',
})
export class CreditBalance {
  /** Whose credits (not a field: `spend` reads the account's spend limit with it). */
  accountId!: string;

  @Field(() => GraphQLSafeInt, { description: 'Every credit the account has: the sum of its ledger' })
  credits!: number;

  @Field(() => GraphQLSafeInt, {
    description: 'Set aside for work in progress (holds not yet settled or released)',
  })
  held!: number;

  @Field(() => GraphQLSafeInt, { description: 'What new work may use: credits less held' })
  available!: number;

  @Field(() => ExpiringCredits, { nullable: true })
  expiringSoon!: ExpiringCredits | null;
}

@ObjectType({ description: 'One change of the credits, append-only' })
export class CreditLedgerEntry {
  @Field(() => ID)
  id!: string;

  @Field(() => CreditEntryKind)
  kind!: CreditEntryKind;

  @Field(() => GraphQLSafeInt, { description: 'Signed whole credits: added (positive) or taken (negative)' })
  credits!: number;

  @Field(() => GraphQLSafeInt, { description: 'The balance just after this entry' })
  balanceAfter!: number;

  @Field(() => GraphQLSafeInt, {
    description: 'A burn’s part the credits could not cover (billed or not charged); else 0',
  })
  uncovered!: number;

  @Field(() => GraphQLSafeInt, {
    description:
      'Of `uncovered`, billed as overage on the next invoice (the ai_credits metered price); else 0',
  })
  billed!: number;

  @Field(() => String)
  reason!: string;

  @Field(() => String, {
    description: 'What caused it: stripe_invoice, stripe_payment_intent, admin, usage, …',
  })
  sourceType!: string;

  @Field(() => String, { description: 'Its id: in_…, pi_…, a key' })
  sourceId!: string;

  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType()
export class CreditLedgerConnection {
  @Field(() => [CreditLedgerEntry], { description: 'Newest first' })
  nodes!: CreditLedgerEntry[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@InputType()
export class GrantCreditsInput {
  @Field(() => ID)
  @IsString()
  @Length(1, 255)
  @IsAccountIdInput()
  accountId!: string;

  @Field(() => GraphQLSafeInt, { description: 'Whole credits, 1 to 1,000,000,000' })
  @IsInt()
  @Min(1)
  @Max(1_000_000_000)
  credits!: number;

  @Field(() => Date, { nullable: true, description: 'In the future; null = never expire' })
  @IsOptional()
  @IsDate()
  expiresAt?: Date | null;

  @Field(() => String, { description: 'Why (shown in the ledger), at most 500 characters' })
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  reason!: string;

  @Field(() => String, { description: 'The same key again grants nothing more (answers duplicate: true)' })
  @IsString()
  @Length(1, 255)
  idempotencyKey!: string;
}

@ObjectType()
export class CreditGrant {
  @Field(() => ID, { description: 'The lot the grant made (the first grant’s, for a duplicate)' })
  lotId!: string;

  @Field(() => GraphQLSafeInt)
  credits!: number;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;

  @Field(() => Boolean, {
    description: 'An earlier grant with this idempotency key made it: nothing was added',
  })
  duplicate!: boolean;
}
