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
