import { idempotencyKey } from '../services/stripe/idempotency-key';

/**
 * The idempotency key of one sync mutation: what is done, to which version of what, with which parameters.
 * The version matters because Stripe replays a key's first answer for 24 hours: a key made only of the target
 * state (name A) would, after A → B → A within a day, replay the first A-update and leave the object at B. So
 * updates name the object's `updated` time and price replacements name the price they replace.
 */
export function syncKey(intent: string, params: unknown): string {
  return idempotencyKey(`sync:${intent}`, params);
}
