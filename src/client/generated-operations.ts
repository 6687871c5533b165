/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** What the reserved work actually used */
export type CommitUsageInput = {
  /** Service role only: the account the work was for */
  accountId?: string | null | undefined;
  /** What was used, 0 or more: recorded even past the reservation or the limit (the work was done); 0 records nothing */
  quantity: number;
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

/** Holds part of a metric’s allowance while work is served: commit what it used after, or release the hold */
export type ReserveUsageInput = {
  /** Service role only: the account the work is for */
  accountId?: string | null | undefined;
  /** A feature the work needs as well (e.g. api_access): refused with FEATURE_NOT_IN_PLAN when off */
  feature?: string | null | undefined;
  /** Reserving again with the same key answers the same reservation (a retried request) */
  idempotencyKey?: string | null | undefined;
  /** A counted metric of the plan catalog, e.g. ai_requests */
  metric: string;
  /** The most the work may use: 1 to 1,000,000 */
  quantity: number;
  /** Seconds the hold lasts if neither committed nor released (default 300, at most 3,600) */
  ttlSeconds?: number | null | undefined;
};

export type FeatureAccessFieldsFragment = { feature: string, allowed: boolean, reason: string | null, limit: number | null, used: number | null, remaining: number | null };

export type UsageSummaryFieldsFragment = { metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodStart: string, periodEnd: string };

export type UsageRecordResultFieldsFragment = { duplicate: boolean, usage: { metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodStart: string, periodEnd: string } };

export type RecordUsageMutationVariables = Exact<{
  input: RecordUsageInput;
}>;


export type RecordUsageMutation = { recordUsage: { duplicate: boolean, usage: { metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodStart: string, periodEnd: string } } };

export type RecordUsageBatchMutationVariables = Exact<{
  input: Array<RecordUsageInput> | RecordUsageInput;
}>;


export type RecordUsageBatchMutation = { recordUsageBatch: Array<{ duplicate: boolean, usage: { metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodStart: string, periodEnd: string } }> };

export type ReserveUsageMutationVariables = Exact<{
  input: ReserveUsageInput;
}>;


export type ReserveUsageMutation = { reserveUsage: { id: string, metric: string, quantity: number, expiresAt: string, duplicate: boolean, usage: { metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodStart: string, periodEnd: string } } };

export type CommitUsageMutationVariables = Exact<{
  input: CommitUsageInput;
}>;


export type CommitUsageMutation = { commitUsage: { duplicate: boolean, usage: { metric: string, used: number, included: number | null, remaining: number | null, overage: number, periodStart: string, periodEnd: string } } };

export type ReleaseUsageMutationVariables = Exact<{
  input: ReleaseUsageInput;
}>;


export type ReleaseUsageMutation = { releaseUsage: boolean };

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