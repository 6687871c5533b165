/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** What the reserved work actually used */
export type CommitUsageInput = {
  /** Service role only: the account the work was for */
  accountId?: string | null | undefined;
  /** A model call: the input tokens it used */
  inputTokens?: number | null | undefined;
  /** A model call: the output tokens it produced */
  outputTokens?: number | null | undefined;
  /** A metric reservation: what was used, 0 or more: recorded even past the reservation or the limit (the work was done); 0 records nothing */
  quantity?: number | null | undefined;
  reservationId: string;
};

/** One use of a metric: a counter adds `quantity`, a gauge sets its level to it */
export type RecordUsageInput = {
  /** Service role only: the account that used it */
  accountId?: string | null | undefined;
  /** Unique per account and use: a retry with the same key is reported as a duplicate, not counted */
  idempotencyKey: string;
  /** A metric of the plan catalog, e.g. ai_requests or storage_mb */
  metric: string;
  /** When it was used (default now); within the current usage period, at most 5 minutes ahead */
  occurredAt?: string | null | undefined;
  /** A whole number, 0 or more (at most 1,000,000 in one record) */
  quantity: number;
};

/** Gives a hold back unused (the work failed) */
export type ReleaseUsageInput = {
  /** Service role only: the account the work was for */
  accountId?: string | null | undefined;
  reservationId: string;
};

/** Holds part of a metric’s allowance (`metric`, `quantity`) or the credits of a model call (`model`, `inputTokens`, `maxOutputTokens`) while work is served: commit what it used after, or release the hold */
export type ReserveUsageInput = {
  /** Service role only: the account the work is for */
  accountId?: string | null | undefined;
  /** A feature the work needs as well (e.g. api_access): refused with FEATURE_NOT_IN_PLAN when off */
  feature?: string | null | undefined;
  /** Reserving again with the same key answers the same reservation (a retried request) */
  idempotencyKey?: string | null | undefined;
  /** With `model`: the prompt’s tokens */
  inputTokens?: number | null | undefined;
  /** With `model`: the most output tokens the call may produce (its max_tokens) */
  maxOutputTokens?: number | null | undefined;
  /** With `model`: the team member the call is for (member credit limits apply) */
  memberId?: string | null | undefined;
  /** A counted metric of the plan catalog, e.g. ai_requests (not with `model`) */
  metric?: string | null | undefined;
  /** A model of the rate card (modelPrices): the call is priced in credits and held from the balance. Unknown models are refused */
  model?: string | null | undefined;
  /** With `metric`: the most the work may use, 1 to 1,000,000 */
  quantity?: number | null | undefined;
  /** Seconds the hold lasts if neither committed nor released (default 300, at most 3,600) */
  ttlSeconds?: number | null | undefined;
};

export type FeatureAccessFieldsFragment = { feature: string, allowed: boolean, reason: string | null, limit: number | null, used: number | null, remaining: number | null };

export type UsageSummaryFieldsFragment = { metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodStart: string, periodEnd: string };

export type UsageRecordResultFieldsFragment = { duplicate: boolean, usage: { metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodStart: string, periodEnd: string } | null };

export type RecordUsageMutationVariables = Exact<{
  input: RecordUsageInput;
}>;


export type RecordUsageMutation = { recordUsage: { duplicate: boolean, usage: { metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodStart: string, periodEnd: string } | null } };

export type RecordUsageBatchMutationVariables = Exact<{
  input: Array<RecordUsageInput> | RecordUsageInput;
}>;


export type RecordUsageBatchMutation = { recordUsageBatch: Array<{ duplicate: boolean, usage: { metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodStart: string, periodEnd: string } | null }> };

export type ReserveUsageMutationVariables = Exact<{
  input: ReserveUsageInput;
}>;


export type ReserveUsageMutation = { reserveUsage: { id: string, metric: string | null, quantity: number, expiresAt: string, duplicate: boolean, usage: { metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodStart: string, periodEnd: string } | null } };

export type CommitUsageMutationVariables = Exact<{
  input: CommitUsageInput;
}>;


export type CommitUsageMutation = { commitUsage: { duplicate: boolean, usage: { metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodStart: string, periodEnd: string } | null } };

export type ReleaseUsageMutationVariables = Exact<{
  input: ReleaseUsageInput;
}>;


export type ReleaseUsageMutation = { releaseUsage: boolean };

export type ReserveTokensMutationVariables = Exact<{
  input: ReserveUsageInput;
}>;


export type ReserveTokensMutation = { reserveUsage: { id: string, model: string | null, quantity: number, expiresAt: string, duplicate: boolean } };

export type CommitTokensMutationVariables = Exact<{
  input: CommitUsageInput;
}>;


export type CommitTokensMutation = { commitUsage: { duplicate: boolean, credits: { credits: number, burned: number, uncovered: number } | null } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const FeatureAccessFieldsFragmentDoc = new TypedDocumentString(`
    fragment FeatureAccessFields on FeatureAccess {
  feature
  allowed
  reason
  limit
  used
  remaining
}
    `, {"fragmentName":"FeatureAccessFields"}) as unknown as TypedDocumentString<FeatureAccessFieldsFragment, unknown>;
export const UsageSummaryFieldsFragmentDoc = new TypedDocumentString(`
    fragment UsageSummaryFields on UsageSummary {
  metric
  used
  included
  remaining
  overage
  periodStart
  periodEnd
}
    `, {"fragmentName":"UsageSummaryFields"}) as unknown as TypedDocumentString<UsageSummaryFieldsFragment, unknown>;
export const UsageRecordResultFieldsFragmentDoc = new TypedDocumentString(`
    fragment UsageRecordResultFields on UsageRecordResult {
  duplicate
  usage {
    ...UsageSummaryFields
  }
}
    fragment UsageSummaryFields on UsageSummary {
  metric
  used
  included
  remaining
  overage
  periodStart
  periodEnd
}`, {"fragmentName":"UsageRecordResultFields"}) as unknown as TypedDocumentString<UsageRecordResultFieldsFragment, unknown>;
export const RecordUsageDocument = new TypedDocumentString(`
    mutation RecordUsage($input: RecordUsageInput!) {
  recordUsage(input: $input) {
    ...UsageRecordResultFields
  }
}
    fragment UsageSummaryFields on UsageSummary {
  metric
  used
  included
  remaining
  overage
  periodStart
  periodEnd
}
fragment UsageRecordResultFields on UsageRecordResult {
  duplicate
  usage {
    ...UsageSummaryFields
  }
}`) as unknown as TypedDocumentString<RecordUsageMutation, RecordUsageMutationVariables>;
export const RecordUsageBatchDocument = new TypedDocumentString(`
    mutation RecordUsageBatch($input: [RecordUsageInput!]!) {
  recordUsageBatch(input: $input) {
    ...UsageRecordResultFields
  }
}
    fragment UsageSummaryFields on UsageSummary {
  metric
  used
  included
  remaining
  overage
  periodStart
  periodEnd
}
fragment UsageRecordResultFields on UsageRecordResult {
  duplicate
  usage {
    ...UsageSummaryFields
  }
}`) as unknown as TypedDocumentString<RecordUsageBatchMutation, RecordUsageBatchMutationVariables>;
export const ReserveUsageDocument = new TypedDocumentString(`
    mutation ReserveUsage($input: ReserveUsageInput!) {
  reserveUsage(input: $input) {
    id
    metric
    quantity
    expiresAt
    duplicate
    usage {
      ...UsageSummaryFields
    }
  }
}
    fragment UsageSummaryFields on UsageSummary {
  metric
  used
  included
  remaining
  overage
  periodStart
  periodEnd
}`) as unknown as TypedDocumentString<ReserveUsageMutation, ReserveUsageMutationVariables>;
export const CommitUsageDocument = new TypedDocumentString(`
    mutation CommitUsage($input: CommitUsageInput!) {
  commitUsage(input: $input) {
    ...UsageRecordResultFields
  }
}
    fragment UsageSummaryFields on UsageSummary {
  metric
  used
  included
  remaining
  overage
  periodStart
  periodEnd
}
fragment UsageRecordResultFields on UsageRecordResult {
  duplicate
  usage {
    ...UsageSummaryFields
  }
}`) as unknown as TypedDocumentString<CommitUsageMutation, CommitUsageMutationVariables>;
export const ReleaseUsageDocument = new TypedDocumentString(`
    mutation ReleaseUsage($input: ReleaseUsageInput!) {
  releaseUsage(input: $input)
}
    `) as unknown as TypedDocumentString<ReleaseUsageMutation, ReleaseUsageMutationVariables>;
export const ReserveTokensDocument = new TypedDocumentString(`
    mutation ReserveTokens($input: ReserveUsageInput!) {
  reserveUsage(input: $input) {
    id
    model
    quantity
    expiresAt
    duplicate
  }
}
    `) as unknown as TypedDocumentString<ReserveTokensMutation, ReserveTokensMutationVariables>;
export const CommitTokensDocument = new TypedDocumentString(`
    mutation CommitTokens($input: CommitUsageInput!) {
  commitUsage(input: $input) {
    duplicate
    credits {
      credits
      burned
      uncovered
    }
  }
}
    `) as unknown as TypedDocumentString<CommitTokensMutation, CommitTokensMutationVariables>;