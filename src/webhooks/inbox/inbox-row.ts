import type Stripe from 'stripe';
import { orderingKeyOf } from './ordering-key';

/** Who put an event in the inbox: Stripe's delivery, or the reconciler walking Stripe's event list. */
export type EventSource = 'webhook' | 'reconciler';

/**
 * The values a new inbox row binds, in the order both insert statements (the endpoint's intake and the
 * reconciler's `store`) name their columns: id, event id, type, payload, object id, ordering key, source, Stripe's
 * creation time. The payload is the text of the bytes Stripe signed when we have it (no second serialisation of
 * the parsed event).
 */
export function inboxRowValues(
  event: Stripe.Event,
  source: EventSource,
  body?: string,
): Array<string | Date | null> {
  return [
    crypto.randomUUID(),
    event.id,
    event.type,
    body ?? JSON.stringify(event),
    (event.data.object as { id?: string }).id ?? null,
    orderingKeyOf(event),
    source,
    new Date(event.created * 1000),
  ];
}
