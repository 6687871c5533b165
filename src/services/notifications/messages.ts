import { z } from 'zod';
import type { NotificationKind } from '../../entities/notification.entity';

/**
 * What each kind of notification carries. The same schema checks a message when it is enqueued and again when
 * the worker reads it back from the outbox (rows outlive deployments). Amounts are integer minor units of the
 * currency, exactly as Stripe gives them; dates may be passed as `Date` or ISO strings and are stored as ISO.
 */

const isoDate = z
  .union([z.date(), z.string().datetime({ offset: true })])
  .transform((value) => new Date(value))
  .refine((date) => !Number.isNaN(date.getTime()), { message: 'must be a valid date' });

const minorUnits = z.number().int();
const currencyCode = z
  .string()
  .regex(/^[A-Za-z]{3}$/, { message: 'must be an ISO 4217 code such as usd' })
  .transform((code) => code.toUpperCase());

export const paymentFailedData = z.object({
  /** Stripe invoice id (`in_…`). */
  invoiceId: z.string().min(1),
  invoiceNumber: z.string().nullable().default(null),
  amountDue: minorUnits.nonnegative(),
  currency: currencyCode,
  /** Stripe's `attempt_count`: each failed attempt is its own mail. */
  attemptCount: z.number().int().min(1),
  /** Stripe's `next_payment_attempt`; null when Stripe will not retry. */
  nextPaymentAttemptAt: isoDate.nullable().default(null),
  /** Stripe's hosted invoice page, where the invoice can be paid with another card. */
  hostedInvoiceUrl: z.string().url().nullable().default(null),
  planName: z.string().min(1).nullable().default(null),
});

export const trialWillEndData = z.object({
  /** Stripe subscription id (`sub_…`). */
  subscriptionId: z.string().min(1),
  planName: z.string().min(1),
  trialEndsAt: isoDate,
  /** Whether a card is on file: without one the subscription will not continue after the trial. */
  hasPaymentMethod: z.boolean(),
  /** What the first invoice after the trial will charge, when known. */
  amountAfterTrial: minorUnits.nonnegative().nullable().default(null),
  currency: currencyCode.nullable().default(null),
});

export const subscriptionCanceledData = z.object({
  subscriptionId: z.string().min(1),
  planName: z.string().min(1),
  /** When access to the paid plan ended (or ends). */
  endedAt: isoDate,
});

export const usageThresholdData = z.object({
  /** The plan catalog's metric key, e.g. `ai_requests`. */
  metric: z.string().min(1),
  /** How the metric reads in a sentence, e.g. `AI requests`. */
  metricLabel: z.string().min(1),
  /** Which threshold was crossed: 80 or 100 (% of the included amount). */
  thresholdPercent: z.number().int().min(1).max(100),
  used: z.number().int().nonnegative(),
  included: z.number().int().positive(),
  periodStart: isoDate,
  periodEnd: isoDate,
  planName: z.string().min(1),
  /** The plan's rule past the limit: refuse further use, or bill it as overage. */
  overLimit: z.enum(['block', 'bill_overage']),
});

export const paymentActionRequiredData = z.object({
  /** Stripe invoice id (`in_…`): one mail per invoice. */
  invoiceId: z.string().min(1),
  invoiceNumber: z.string().nullable().default(null),
  amountDue: minorUnits.nonnegative(),
  currency: currencyCode,
  /** Stripe's hosted invoice page, where the customer confirms the payment with their bank (3-D Secure). */
  hostedInvoiceUrl: z.string().url().nullable().default(null),
  planName: z.string().min(1).nullable().default(null),
});

export const duplicateSubscriptionCanceledData = z.object({
  /** The duplicate, cancelled (`sub_…`): one mail per duplicate. */
  subscriptionId: z.string().min(1),
  /** The subscription the account keeps. */
  keptSubscriptionId: z.string().min(1),
  planName: z.string().min(1),
  /** What was refunded of the duplicate's payments (0 for a trial). */
  amountRefunded: minorUnits.nonnegative(),
  currency: currencyCode,
  /** The duplicate was still in its free trial: nothing was charged. */
  wasTrialing: z.boolean(),
});

/** A chargeback, for the admins (`BILLING_ADMIN_EMAILS`): one mail per dispute and admin when it opens. */
export const disputeOpenedData = z.object({
  /** Stripe dispute id (`dp_…`). */
  disputeId: z.string().min(1),
  chargeId: z.string().min(1),
  /** The account of the disputed payment's customer; null when the customer is not one of ours. */
  accountId: z.string().min(1).nullable().default(null),
  invoiceId: z.string().min(1).nullable().default(null),
  amount: minorUnits.nonnegative(),
  currency: currencyCode,
  /** Stripe's reason: fraudulent, duplicate, product_not_received, subscription_canceled, general, … */
  reason: z.string().min(1),
  status: z.string().min(1),
  /** The last moment evidence can be submitted; null when Stripe gives none. */
  evidenceDueBy: isoDate.nullable().default(null),
});

/** A chargeback decided: one mail per dispute and admin when it closes (won, lost, warning_closed). */
export const disputeClosedData = z.object({
  disputeId: z.string().min(1),
  chargeId: z.string().min(1),
  accountId: z.string().min(1).nullable().default(null),
  amount: minorUnits.nonnegative(),
  currency: currencyCode,
  reason: z.string().min(1),
  status: z.string().min(1),
});

/**
 * Auto top-up stopped (issue 17): a pack charged off-session to the saved card was declined, or the bank asked to
 * approve it (then `hostedInvoiceUrl` is where to approve it). One mail per attempt.
 */
export const autoTopUpFailedData = z.object({
  packName: z.string().min(1),
  credits: z.number().int().positive(),
  amount: minorUnits.nonnegative(),
  currency: currencyCode,
  /** Why: `card_declined` (with Stripe's decline code where it gave one), `authentication_required`, … */
  reason: z.string().min(1),
  /** The auto top-up's attempt number: the dedupe key's part. */
  attempt: z.number().int().positive(),
  hostedInvoiceUrl: z.string().url().nullable().default(null),
});

/**
 * The spend limit (issue 17): what the account spent beyond its plan this usage period (credits billed as overage
 * and automatic top-ups) reached 80 % or 100 % of the limit its customer set. Once per period and threshold.
 */
export const spendLimitAlertData = z.object({
  /** Which threshold was crossed: 80 or 100 (% of the limit). */
  thresholdPercent: z.union([z.literal(80), z.literal(100)]),
  spentCents: minorUnits.nonnegative(),
  limitCents: minorUnits.nonnegative(),
  currency: currencyCode,
  periodStart: isoDate,
  periodEnd: isoDate,
});

export const NOTIFICATION_SCHEMAS = {
  payment_failed: paymentFailedData,
  trial_will_end: trialWillEndData,
  subscription_canceled: subscriptionCanceledData,
  usage_threshold: usageThresholdData,
  payment_action_required: paymentActionRequiredData,
  duplicate_subscription_canceled: duplicateSubscriptionCanceledData,
  dispute_opened: disputeOpenedData,
  dispute_closed: disputeClosedData,
  auto_top_up_failed: autoTopUpFailedData,
  spend_limit_alert: spendLimitAlertData,
} as const satisfies Record<NotificationKind, z.ZodTypeAny>;

type Schemas = typeof NOTIFICATION_SCHEMAS;

/** A message as callers write it (dates as `Date` or ISO strings, optional fields may be left out). */
export type NotificationMessageInput = {
  [K in NotificationKind]: { kind: K; data: z.input<Schemas[K]> };
}[NotificationKind];

/** A checked message, as the templates read it. */
export type NotificationMessage = {
  [K in NotificationKind]: { kind: K; data: z.output<Schemas[K]> };
}[NotificationKind];

export type PaymentFailedData = z.output<typeof paymentFailedData>;
export type TrialWillEndData = z.output<typeof trialWillEndData>;
export type SubscriptionCanceledData = z.output<typeof subscriptionCanceledData>;
export type UsageThresholdData = z.output<typeof usageThresholdData>;
export type PaymentActionRequiredData = z.output<typeof paymentActionRequiredData>;
export type DuplicateSubscriptionCanceledData = z.output<typeof duplicateSubscriptionCanceledData>;
export type DisputeOpenedData = z.output<typeof disputeOpenedData>;
export type DisputeClosedData = z.output<typeof disputeClosedData>;
export type AutoTopUpFailedData = z.output<typeof autoTopUpFailedData>;
export type SpendLimitAlertData = z.output<typeof spendLimitAlertData>;

/** Thrown when a message does not fit its kind's schema; retrying cannot fix it. */
export class InvalidNotificationError extends Error {
  override name = 'InvalidNotificationError';
}

/** Checks a message (from a caller or read back from the outbox) against its kind's schema. */
export function parseNotificationMessage(kind: string, data: unknown): NotificationMessage {
  switch (kind) {
    case 'payment_failed':
      return { kind, data: check(kind, paymentFailedData, data) };
    case 'trial_will_end':
      return { kind, data: check(kind, trialWillEndData, data) };
    case 'subscription_canceled':
      return { kind, data: check(kind, subscriptionCanceledData, data) };
    case 'usage_threshold':
      return { kind, data: check(kind, usageThresholdData, data) };
    case 'payment_action_required':
      return { kind, data: check(kind, paymentActionRequiredData, data) };
    case 'duplicate_subscription_canceled':
      return { kind, data: check(kind, duplicateSubscriptionCanceledData, data) };
    case 'dispute_opened':
      return { kind, data: check(kind, disputeOpenedData, data) };
    case 'dispute_closed':
      return { kind, data: check(kind, disputeClosedData, data) };
    case 'auto_top_up_failed':
      return { kind, data: check(kind, autoTopUpFailedData, data) };
    case 'spend_limit_alert':
      return { kind, data: check(kind, spendLimitAlertData, data) };
    default:
      throw new InvalidNotificationError(`unknown notification kind "${kind}"`);
  }
}

function check<S extends z.ZodTypeAny>(kind: string, schema: S, data: unknown): z.output<S> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'data'} ${issue.message}`);
    throw new InvalidNotificationError(`invalid ${kind} notification: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/**
 * The outbox's unique key: one mail per fact, however often the fact is reported. Payment failures mail once
 * per attempt, a trial ending once per trial end, a cancellation once per subscription, a usage threshold once
 * per account, metric, billing period and threshold, a payment to confirm once per invoice, a cancelled
 * duplicate once per duplicate. Mails to the admins (disputes) go to each admin: once per fact and `recipient`.
 */
export function dedupeKeyOf(accountId: string, message: NotificationMessage, recipient = ''): string {
  switch (message.kind) {
    case 'payment_failed':
      return `payment_failed:${message.data.invoiceId}:${message.data.attemptCount}`;
    case 'trial_will_end':
      return `trial_will_end:${message.data.subscriptionId}:${unixSeconds(message.data.trialEndsAt)}`;
    case 'subscription_canceled':
      return `subscription_canceled:${message.data.subscriptionId}`;
    case 'usage_threshold':
      return `usage_threshold:${accountId}:${message.data.metric}:${unixSeconds(message.data.periodStart)}:${message.data.thresholdPercent}`;
    case 'payment_action_required':
      return `payment_action_required:${message.data.invoiceId}`;
    case 'duplicate_subscription_canceled':
      return `duplicate_subscription_canceled:${message.data.subscriptionId}`;
    case 'dispute_opened':
      return `dispute_opened:${message.data.disputeId}:${recipient.trim().toLowerCase()}`;
    case 'dispute_closed':
      return `dispute_closed:${message.data.disputeId}:${recipient.trim().toLowerCase()}`;
    case 'auto_top_up_failed':
      return `auto_top_up_failed:${accountId}:${message.data.attempt}`;
    case 'spend_limit_alert':
      return `spend_limit_alert:${accountId}:${unixSeconds(message.data.periodStart)}:${message.data.thresholdPercent}`;
  }
}

function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}
