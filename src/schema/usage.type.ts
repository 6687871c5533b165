import { IsOptional, MaxLength } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { UsageSummary } from './entitlement.type';

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

@ObjectType()
export class UsageRecordResult {
  @Field(() => Boolean, {
    description: 'True when this idempotency key was already recorded: nothing was added',
  })
  duplicate!: boolean;

  @Field(() => UsageSummary, { description: "The metric's usage after this record" })
  usage!: UsageSummary;
}

@InputType({ description: "Admin: replace an account's plan entitlement for one feature or metric" })
export class EntitlementOverrideInput {
  @Field(() => ID)
  @MaxLength(255)
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
    'Holds part of a metric’s allowance while work is served: commit what it used after, or release the hold',
})
export class ReserveUsageInput {
  @Field(() => String, { description: 'A counted metric of the plan catalog, e.g. ai_requests' })
  metric!: string;

  @Field(() => Int, { description: 'The most the work may use: 1 to 1,000,000' })
  quantity!: number;

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

@ObjectType({ description: 'A hold on part of an allowance; it expires by itself at expiresAt' })
export class UsageReservation {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  metric!: string;

  @Field(() => Int, { description: 'What is held' })
  quantity!: number;

  @Field(() => Date)
  expiresAt!: Date;

  @Field(() => Boolean, { description: 'True when this idempotency key had reserved before: the same hold' })
  duplicate!: boolean;

  @Field(() => UsageSummary, { description: 'The metric’s usage; remaining counts what holds take' })
  usage!: UsageSummary;
}

@InputType({ description: 'What the reserved work actually used' })
export class CommitUsageInput {
  @Field(() => ID)
  reservationId!: string;

  @Field(() => Int, {
    description:
      'What was used, 0 or more: recorded even past the reservation or the limit (the work was done); 0 records nothing',
  })
  quantity!: number;

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
