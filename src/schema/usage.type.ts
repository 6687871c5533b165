import { IsOptional, MaxLength } from 'class-validator';
import { GraphQLSafeInt } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { UsageSummary } from './entitlement.type';
import { IsAccountIdInput } from './account-id';

/** Checked by the usage meter (`validateUsageEvents`), not class-validator: one set of rules for every caller. */
@InputType({ description: 'One use of a metric: a counter adds `quantity`, a gauge sets its level to it' })
export class RecordUsageInput {
  @Field(() => String, { description: 'A metric of the plan catalog, e.g. ai_requests or storage_mb' })
  metric!: string;

  @Field(() => Int, { description: 'A whole number, 0 or more (at most 1,000,000 in one record)' })
  quantity!: number;

  @Field(() => String, {
    description:
      'Unique per account and use: a retry with the same key is reported as a duplicate, not counted',
  })
  idempotencyKey!: string;

  @Field(() => ID, { nullable: true, description: 'Service role only: the account that used it' })
  accountId?: string;

  @Field(() => Date, {
    nullable: true,
    description: 'When it was used (default now); within the current usage period, at most 5 minutes ahead',
  })
  occurredAt?: Date;
}

@ObjectType({ description: 'What a committed model call cost, at the rate in effect when it was reserved' })
export class TokenUsageCredits {
  @Field(() => GraphQLSafeInt, {
    description: 'Credits the call cost (input and output tokens, one rounding up)',
  })
  credits!: number;

  @Field(() => GraphQLSafeInt, { description: 'Taken from the balance (the hold first)' })
  burned!: number;

  @Field(() => GraphQLSafeInt, { description: 'What the balance did not cover' })
  uncovered!: number;

  @Field(() => GraphQLSafeInt, {
    description:
      'Of `uncovered`, billed as overage on the next invoice (plans that bill it, within the spend limit); the rest was not charged',
  })
  billed!: number;
}

@ObjectType()
export class UsageRecordResult {
  @Field(() => Boolean, {
    description: 'True when this idempotency key was already recorded: nothing was added',
  })
  duplicate!: boolean;

  @Field(() => UsageSummary, {
    nullable: true,
    description: "The metric's usage after this record; null for a model call's commit (see `credits`)",
  })
  usage!: UsageSummary | null;

  @Field(() => TokenUsageCredits, {
    nullable: true,
    description: "A model call's commit: the credits it cost and how they were paid; null for a metric",
  })
  credits?: TokenUsageCredits | null;
}

@InputType({ description: "Admin: replace an account's plan entitlement for one feature or metric" })
export class EntitlementOverrideInput {
  @Field(() => ID)
  @MaxLength(255)
  @IsAccountIdInput()
  accountId!: string;

  @Field(() => String, { description: 'A feature or metric key of the plan catalog' })
  @MaxLength(64)
  feature!: string;

  @Field(() => Boolean)
  enabled!: boolean;

  @Field(() => Int, { nullable: true, description: 'For a metric: the included amount; null = unlimited' })
  limit?: number | null;

  @Field(() => String, { nullable: true, description: 'Why, e.g. the contract reference' })
  @IsOptional()
  @MaxLength(500)
  note?: string;
}

@InputType({
  description:
    'Holds part of a metric’s allowance (`metric`, `quantity`) or the credits of a model call (`model`, `inputTokens`, `maxOutputTokens`) while work is served: commit what it used after, or release the hold',
})
export class ReserveUsageInput {
  @Field(() => String, {
    nullable: true,
    description: 'A counted metric of the plan catalog, e.g. ai_requests (not with `model`)',
  })
  metric?: string | null;

  @Field(() => Int, {
    nullable: true,
    description: 'With `metric`: the most the work may use, 1 to 1,000,000',
  })
  quantity?: number | null;

  @Field(() => String, {
    nullable: true,
    description:
      'A model of the rate card (modelPrices): the call is priced in credits and held from the balance. Unknown models are refused',
  })
  model?: string | null;

  @Field(() => Int, { nullable: true, description: 'With `model`: the prompt’s tokens' })
  inputTokens?: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'With `model`: the most output tokens the call may produce (its max_tokens)',
  })
  maxOutputTokens?: number | null;

  @Field(() => String, {
    nullable: true,
    description: 'With `model`: the team member the call is for (member credit limits apply)',
  })
  memberId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Service role only: the account the work is for' })
  accountId?: string;

  @Field(() => String, {
    nullable: true,
    description:
      'A feature the work needs as well (e.g. api_access): refused with FEATURE_NOT_IN_PLAN when off',
  })
  feature?: string;

  @Field(() => Int, {
    nullable: true,
    description: 'Seconds the hold lasts if neither committed nor released (default 300, at most 3,600)',
  })
  ttlSeconds?: number;

  @Field(() => String, {
    nullable: true,
    description: 'Reserving again with the same key answers the same reservation (a retried request)',
  })
  idempotencyKey?: string;
}

@ObjectType({
  description:
    'A hold on part of an allowance or on credits for a model call; it expires by itself at expiresAt',
})
export class UsageReservation {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true, description: 'The metric held; null for a model call' })
  metric!: string | null;

  @Field(() => String, { nullable: true, description: 'The model of a model call; null for a metric' })
  model?: string | null;

  @Field(() => Int, { description: 'What is held: units of the metric, or credits for a model call' })
  quantity!: number;

  @Field(() => Date)
  expiresAt!: Date;

  @Field(() => Boolean, { description: 'True when this idempotency key had reserved before: the same hold' })
  duplicate!: boolean;

  @Field(() => UsageSummary, {
    nullable: true,
    description: 'The metric’s usage; remaining counts what holds take. Null for a model call',
  })
  usage!: UsageSummary | null;
}

@InputType({ description: 'What the reserved work actually used' })
export class CommitUsageInput {
  @Field(() => ID)
  reservationId!: string;

  @Field(() => Int, {
    nullable: true,
    description:
      'A metric reservation: what was used, 0 or more: recorded even past the reservation or the limit (the work was done); 0 records nothing',
  })
  quantity?: number | null;

  @Field(() => Int, { nullable: true, description: 'A model call: the input tokens it used' })
  inputTokens?: number | null;

  @Field(() => Int, { nullable: true, description: 'A model call: the output tokens it produced' })
  outputTokens?: number | null;

  @Field(() => ID, { nullable: true, description: 'Service role only: the account the work was for' })
  accountId?: string;
}

@InputType({ description: 'Gives a hold back unused (the work failed)' })
export class ReleaseUsageInput {
  @Field(() => ID)
  reservationId!: string;

  @Field(() => ID, { nullable: true, description: 'Service role only: the account the work was for' })
  accountId?: string;
}
