import { createHash } from 'node:crypto';

/**
 * The idempotency key of a Stripe call, derived from what is being done and with what: a retry of the same
 * intent with the same parameters replays Stripe's first answer instead of creating a second object, while a
 * genuinely different request (say, a new email) gets a key of its own. Never random.
 */
export function idempotencyKey(intent: string, params: unknown = {}): string {
  const digest = createHash('sha256').update(stableJson(params)).digest('hex').slice(0, 24);
  return `${boundedIntent(intent)}:${digest}`;
}

/** Stripe's limit on an idempotency key ("up to 255 characters"). */
const STRIPE_KEY_LIMIT = 255;
/** The intent's readable start kept when it is too long; the rest is told apart by a hash of the whole. */
const READABLE_PREFIX = 180;

/**
 * An intent short enough that the key stays within Stripe's limit. Cutting the key at 255 characters lost the
 * end of a long intent (a caller's own 200-character idempotency key comes after the account or invoice id), so
 * two intents that shared their first ~210 characters got one key: Stripe replayed the first answer. A long
 * intent keeps its start and adds a hash of all of it; short ones are unchanged, so their keys stay as they were.
 */
function boundedIntent(intent: string): string {
  if (intent.length + 1 + 24 <= STRIPE_KEY_LIMIT) return intent;
  const whole = createHash('sha256').update(intent).digest('hex').slice(0, 40);
  return `${intent.slice(0, READABLE_PREFIX)}~${whole}`;
}

/** JSON with sorted object keys, so the same parameters always hash the same. */
export function stableJson(value: unknown): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, entry]) => entry !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${stableJson(entry)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
