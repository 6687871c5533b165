import { BadUserInputError } from '../../errors';
import { METRIC_KEYS, type MetricKey } from '../plans/plan.types';

/** One use as a caller reports it. */
export interface UsageEvent {
  accountId: string;
  metric: string;
  quantity: number;
  idempotencyKey: string;
  occurredAt?: Date | null;
}

/** A use that passed validation. */
export interface ValidUsageEvent {
  accountId: string;
  metric: MetricKey;
  quantity: number;
  idempotencyKey: string;
  occurredAt: Date;
}

/** The most one record may carry: more is a caller's bug (a byte count sent as a request count), not usage. */
export const MAX_QUANTITY = 1_000_000;
/** The most records one batch may carry. */
export const MAX_BATCH = 1_000;
/** How late a use may be recorded: Stripe's meter grace after a period closes. */
export const LATE_LIMIT_MS = 3600 * 1000;
/** How far ahead of our clock a use may be dated (clock skew between services). */
export const EARLY_LIMIT_MS = 5 * 60 * 1000;

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** Checks every event before anything is written; the first bad one fails the whole call with BAD_USER_INPUT. */
export function validateUsageEvents(events: readonly UsageEvent[], now: Date): ValidUsageEvent[] {
  if (events.length === 0) throw new BadUserInputError('Send at least one usage record', 'input');
  if (events.length > MAX_BATCH)
    throw new BadUserInputError(`Send at most ${MAX_BATCH} usage records at once`, 'input');
  return events.map((event, index) =>
    validateUsageEvent(event, now, events.length > 1 ? `input[${index}].` : 'input.'),
  );
}

function validateUsageEvent(event: UsageEvent, now: Date, at: string): ValidUsageEvent {
  if (event.accountId.length === 0 || event.accountId.length > 255)
    throw new BadUserInputError('accountId must be 1 to 255 characters', `${at}accountId`);
  if (!isMetricKey(event.metric))
    throw new BadUserInputError(
      // Echo at most a few characters of what was sent: the message must stay small whatever arrives.
      `Unknown metric "${event.metric.slice(0, 64)}": use one of ${METRIC_KEYS.join(', ')}`,
      `${at}metric`,
    );
  const { quantity } = event;
  if (typeof quantity !== 'number' || !Number.isSafeInteger(quantity))
    throw new BadUserInputError('quantity must be a whole number', `${at}quantity`);
  if (quantity < 0) throw new BadUserInputError('quantity must not be negative', `${at}quantity`);
  if (quantity > MAX_QUANTITY)
    throw new BadUserInputError(`quantity must be at most ${MAX_QUANTITY} in one record`, `${at}quantity`);
  if (!IDEMPOTENCY_KEY.test(event.idempotencyKey))
    throw new BadUserInputError(
      'idempotencyKey must be 1 to 255 printable ASCII characters without spaces',
      `${at}idempotencyKey`,
    );
  const occurredAt = event.occurredAt ?? now;
  if (Number.isNaN(occurredAt.getTime()))
    throw new BadUserInputError('occurredAt must be a valid date', `${at}occurredAt`);
  if (occurredAt.getTime() > now.getTime() + EARLY_LIMIT_MS)
    throw new BadUserInputError('occurredAt must not be more than 5 minutes ahead', `${at}occurredAt`);
  if (occurredAt.getTime() < now.getTime() - LATE_LIMIT_MS)
    throw new BadUserInputError(
      'occurredAt must be within the last hour: older usage can no longer be billed in its period',
      `${at}occurredAt`,
    );
  return {
    accountId: event.accountId,
    metric: event.metric,
    quantity,
    idempotencyKey: event.idempotencyKey,
    occurredAt,
  };
}

/** Whether `metric` names a metric of the plan catalog. */
export function isMetricKey(metric: string): metric is MetricKey {
  return (METRIC_KEYS as readonly string[]).includes(metric);
}
