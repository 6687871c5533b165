/**
 * The billing service for other Node services: `import { BillingClient, usageGate } from 'coditect-billing/client'`.
 * See docs/usage-middleware.md. Nothing here imports the server.
 */
export {
  BillingClient,
  BillingClientError,
  BillingClientErrorCode,
  type BillingClientOptions,
  type FeatureAccess,
  type FeatureAccessReason,
  type CommitTokensInput,
  type RecordUsageInput,
  type ReserveTokensInput,
  type TokenCommitResult,
  type TokenReservation,
  type UsageRecordResult,
  type UsageSummary,
} from './billing-client';
export {
  type ModelCallClient,
  type ModelCallOptions,
  ModelCallTimeoutError,
  meteredModelCall,
  meteredStream,
  type TokenUsage,
} from './model-call';
export {
  idempotencyKeyHeader,
  type UsageGate,
  type UsageGateOptions,
  usageGate,
} from './usage-middleware';
export { type UsageDeniedBody, UsageGateErrorCode } from './usage-refusals';
export {
  type FlushResult,
  stderrLogger,
  type UsageLogger,
  type UsageRecord,
  UsageRecorder,
  type UsageRecorderOptions,
  type UsageRecorderStats,
} from './usage-recorder';
