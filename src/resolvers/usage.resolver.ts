import { Arg, Ctx, ID, Mutation, Resolver, Root, Subscription } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { Topic, type UsageUpdatedPayload } from '../pubsub/topics';
import { UsageSummary } from '../schema/entitlement.type';
import { EntitlementOverrideInput, RecordUsageInput, UsageRecordResult } from '../schema/usage.type';
import type { UsageEvent } from '../services/usage/usage-validation';

@Resolver(() => UsageSummary)
export class UsageResolver {
  @Mutation(() => UsageRecordResult, {
    description:
      'Records one use, exactly once per idempotency key. Past a hard limit it fails with USAGE_LIMIT_EXCEEDED and records nothing',
  })
  async recordUsage(
    // The meter validates every field (the rules live there, for every caller); class-validator would repeat it.
    @Arg('input', () => RecordUsageInput, { validate: false }) input: RecordUsageInput,
    @Ctx() context: RequestContext,
  ): Promise<UsageRecordResult> {
    const [result] = await context.services.usage.meter.recordBatch([usageEventOf(input, context)]);
    return result as UsageRecordResult;
  }

  @Mutation(() => [UsageRecordResult], {
    description:
      'Records up to 1,000 uses in one transaction: all or none (one over a hard limit fails the whole batch). Results in input order',
  })
  async recordUsageBatch(
    @Arg('input', () => [RecordUsageInput], { validate: false }) input: RecordUsageInput[],
    @Ctx() context: RequestContext,
  ): Promise<UsageRecordResult[]> {
    return context.services.usage.meter.recordBatch(input.map((item) => usageEventOf(item, context)));
  }

  @Mutation(() => Boolean, {
    description: "Admin: replace the plan's entitlement of one feature for one account",
  })
  async setEntitlementOverride(
    @Arg('input', () => EntitlementOverrideInput) input: EntitlementOverrideInput,
    @Ctx() context: RequestContext,
  ): Promise<boolean> {
    context.requireRole('admin');
    await context.services.usage.overrides.set({
      accountId: input.accountId,
      feature: input.feature,
      enabled: input.enabled,
      limit: input.limit ?? null,
      note: input.note ?? null,
    });
    return true;
  }

  @Mutation(() => Boolean, {
    description: "Admin: back to the plan's entitlement; false if there was no override",
  })
  async removeEntitlementOverride(
    @Arg('accountId', () => ID) accountId: string,
    @Arg('feature', () => String) feature: string,
    @Ctx() context: RequestContext,
  ): Promise<boolean> {
    context.requireRole('admin');
    return context.services.usage.overrides.remove(accountId, feature);
  }

  @Subscription(() => UsageSummary, {
    description: "The caller's usage of a metric (or of every metric) as it changes",
    topics: Topic.USAGE_UPDATED,
    // The account's own channel: nobody else's usage ever reaches this subscriber.
    topicId: ({ context }) => (context as RequestContext).requireCaller().accountId,
    filter: ({ payload, args }) => !args.metric || (payload as UsageUpdatedPayload).metric === args.metric,
  })
  usageUpdated(
    @Root() payload: UsageUpdatedPayload,
    @Ctx() context: RequestContext,
    @Arg('metric', () => String, { nullable: true, description: 'Only this metric, e.g. ai_requests' })
    _metric?: string,
  ): UsageSummary {
    context.startNextEvent();
    return payload;
  }
}

/**
 * Whose usage it is: a user records for its own account only; the `service` role (the AI gateway) names the
 * account, and must. A user's idempotency keys are kept in a namespace of their own.
 */
function usageEventOf(input: RecordUsageInput, context: RequestContext): UsageEvent {
  const caller = context.requireCaller();
  let accountId = caller.accountId;
  if (input.accountId && input.accountId !== caller.accountId) {
    context.requireRole('service', 'admin');
    accountId = input.accountId;
  }
  const trusted = caller.roles.has('service') || caller.roles.has('admin');
  return {
    accountId,
    metric: input.metric,
    quantity: input.quantity,
    // A user's own keys live apart from the gateway's: a user who guessed the gateway's keys and recorded them
    // first could otherwise have the gateway's records of its real usage refused.
    idempotencyKey: trusted || !input.idempotencyKey ? input.idempotencyKey : `user:${input.idempotencyKey}`,
    occurredAt: input.occurredAt ?? null,
  };
}
