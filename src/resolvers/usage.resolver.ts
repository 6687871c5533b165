import { Arg, Ctx, ID, Mutation, Resolver, Root, Subscription } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { Topic, type UsageUpdatedPayload } from '../pubsub/topics';
import { UsageSummary } from '../schema/entitlement.type';
import {
  CommitUsageInput,
  EntitlementOverrideInput,
  RecordUsageInput,
  ReleaseUsageInput,
  ReserveUsageInput,
  UsageRecordResult,
  UsageReservation,
} from '../schema/usage.type';
import { BadUserInputError } from '../errors';
import type { TokenReservations } from '../services/credits/token-reservations';
import type { EntitlementOverrides } from '../services/usage/entitlement-overrides';
import type { UsageMeter } from '../services/usage/usage-meter';
import type { UsageReservations } from '../services/usage/usage-reservations';
import { usageAccountFor, usageEventFor } from '../services/usage/usage-scope';
import type { UsageEvent } from '../services/usage/usage-validation';

@Resolver(() => UsageSummary)
export class UsageResolver {
  constructor(
    private readonly meter: UsageMeter,
    private readonly reservations: UsageReservations,
    private readonly overrides: EntitlementOverrides,
    private readonly tokens: TokenReservations,
  ) {}

  @Mutation(() => UsageRecordResult, {
    description:
      'Records one use, exactly once per idempotency key. Past a hard limit it fails with USAGE_LIMIT_EXCEEDED and records nothing',
  })
  async recordUsage(
    // The meter validates every field (the rules live there, for every caller); class-validator would repeat it.
    @Arg('input', () => RecordUsageInput, { validate: false }) input: RecordUsageInput,
    @Ctx() context: RequestContext,
  ): Promise<UsageRecordResult> {
    // One record at a time from each caller; the meter groups concurrent ones into one commit (ADR 0019).
    return this.meter.record(usageEventOf(input, context));
  }

  @Mutation(() => [UsageRecordResult], {
    description:
      'Records up to 1,000 uses in one transaction: all or none (one over a hard limit fails the whole batch). Results in input order',
  })
  async recordUsageBatch(
    @Arg('input', () => [RecordUsageInput], { validate: false }) input: RecordUsageInput[],
    @Ctx() context: RequestContext,
  ): Promise<UsageRecordResult[]> {
    return this.meter.recordBatch(input.map((item) => usageEventOf(item, context)));
  }

  @Mutation(() => UsageReservation, {
    description:
      'Holds `quantity` of a metric’s allowance before serving work, counting what other requests hold: past a hard limit it fails with USAGE_LIMIT_EXCEEDED and holds nothing. Commit what the work used (commitUsage) or release the hold (releaseUsage); a hold neither committed nor released expires by itself',
  })
  async reserveUsage(
    @Arg('input', () => ReserveUsageInput, { validate: false }) input: ReserveUsageInput,
    @Ctx() context: RequestContext,
  ): Promise<UsageReservation> {
    const { accountId, trusted } = usageAccountOf(input.accountId, context);
    const idempotencyKey =
      input.idempotencyKey && !trusted ? `user:${input.idempotencyKey}` : (input.idempotencyKey ?? null);
    if (input.model != null) {
      const call = tokenCallOf(input);
      const reservation = await this.tokens.reserve({
        accountId,
        caller: trusted ? 'service' : 'user',
        ...call,
        memberId: input.memberId ?? null,
        ttlSeconds: input.ttlSeconds ?? null,
        idempotencyKey,
      });
      return { ...reservation, metric: null, quantity: reservation.credits, usage: null };
    }
    return this.reservations.reserve({
      accountId,
      metric: required(input.metric, 'metric', 'a metric (with quantity) or a model (with tokens)'),
      quantity: required(input.quantity, 'quantity', 'the most the work may use'),
      feature: input.feature ?? null,
      ttlSeconds: input.ttlSeconds ?? null,
      idempotencyKey,
    });
  }

  @Mutation(() => UsageRecordResult, {
    description:
      'Records what reserved work used and gives the rest of the hold back, exactly once per reservation (a second commit answers duplicate: true)',
  })
  async commitUsage(
    @Arg('input', () => CommitUsageInput, { validate: false }) input: CommitUsageInput,
    @Ctx() context: RequestContext,
  ): Promise<UsageRecordResult> {
    const { accountId, trusted } = usageAccountOf(input.accountId, context);
    if (input.inputTokens != null || input.outputTokens != null) {
      if (input.quantity != null)
        throw new BadUserInputError('A model call commits tokens, not a quantity', 'quantity');
      const outcome = await this.tokens.commit({
        accountId,
        // A user settles only its own reservations; the gateway's on the user's account are the gateway's.
        caller: trusted ? 'service' : 'user',
        reservationId: input.reservationId,
        inputTokens: required(input.inputTokens, 'inputTokens', 'the input tokens the call used'),
        outputTokens: required(input.outputTokens, 'outputTokens', 'the output tokens the call produced'),
      });
      return { duplicate: outcome.duplicate, usage: null, credits: outcome };
    }
    const quantity = required(input.quantity, 'quantity', 'what the work used (or tokens for a model call)');
    return this.reservations.commit(accountId, input.reservationId, quantity);
  }

  @Mutation(() => Boolean, {
    description: 'Gives a hold back unused; false when it was already committed, released or expired',
  })
  async releaseUsage(
    @Arg('input', () => ReleaseUsageInput, { validate: false }) input: ReleaseUsageInput,
    @Ctx() context: RequestContext,
  ): Promise<boolean> {
    const { accountId, trusted } = usageAccountOf(input.accountId, context);
    // The metric release first: it is one statement, and an id it does not know may be a model call's token hold
    // (whose release answers NOT_FOUND for an id that is neither).
    const released = await this.reservations.releaseIfKnown(accountId, input.reservationId);
    return released ?? this.tokens.release(accountId, input.reservationId, trusted ? 'service' : 'user');
  }

  @Mutation(() => Boolean, {
    description: "Admin: replace the plan's entitlement of one feature for one account",
  })
  async setEntitlementOverride(
    @Arg('input', () => EntitlementOverrideInput) input: EntitlementOverrideInput,
    @Ctx() context: RequestContext,
  ): Promise<boolean> {
    context.requireRole('admin');
    await this.overrides.set({
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
    return this.overrides.remove(accountId, feature);
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

/** A model call's reservation: a model with its tokens, never with a metric (one or the other). */
function tokenCallOf(input: ReserveUsageInput): {
  model: string;
  inputTokens: number;
  maxOutputTokens: number;
} {
  if (input.metric != null || input.quantity != null)
    throw new BadUserInputError(
      'Reserve either a metric (with quantity) or a model (with tokens), not both',
      input.metric != null ? 'metric' : 'quantity',
    );
  return {
    model: required(input.model, 'model', 'a model of the rate card'),
    inputTokens: required(input.inputTokens, 'inputTokens', 'the prompt’s tokens'),
    maxOutputTokens: required(
      input.maxOutputTokens,
      'maxOutputTokens',
      'the most output tokens the call may produce',
    ),
  };
}

function required<T>(value: T | null | undefined, field: string, what: string): T {
  if (value == null) throw new BadUserInputError(`${field} is required: ${what}`, field);
  return value;
}

/** The caller's use, scoped by the rule every way in shares (usage-scope.ts). */
function usageEventOf(input: RecordUsageInput, context: RequestContext): UsageEvent {
  return usageEventFor(context.requireCaller(), input);
}

/** Whose usage it is (usage-scope.ts): the caller's own account, or the one a service or admin names. */
function usageAccountOf(
  named: string | undefined,
  context: RequestContext,
): { accountId: string; trusted: boolean } {
  return usageAccountFor(context.requireCaller(), named);
}
