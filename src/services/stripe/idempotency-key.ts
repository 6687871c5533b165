import { createHash } from 'node:crypto';

/**
 * The idempotency key of a Stripe call, derived from what is being done and with what: a retry of the same
 * intent with the same parameters replays Stripe's first answer instead of creating a second object, while a
 * genuinely different request (say, a new email) gets a key of its own. Never random.
 */
export function idempotencyKey(intent: string, params: unknown = {}): string {
  const digest = createHash('sha256').update(stableJson(params)).digest('hex').slice(0, 24);
  return `${intent}:${digest}`.slice(0, 255);
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
