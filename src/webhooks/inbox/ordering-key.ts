import type Stripe from 'stripe';

/**
 * The key an event waits in line by (ADR 0020): events with the same key are processed one at a time, in the
 * order the inbox received them. It is the Stripe customer the object belongs to (a subscription, an invoice, a
 * card, a charge or a Checkout Session of one customer all change the same account, and the rules that span
 * them, such as one paid subscription per account, read them together), else the object itself (a customer, a
 * dispute, a card no longer attached), else the connected account. Null: the event waits for nothing.
 */
export function orderingKeyOf(event: Stripe.Event): string | null {
  const object = event.data.object as { id?: unknown; object?: unknown; customer?: unknown };
  const customer = idOf(object.customer);
  if (customer) return customer;
  if (typeof object.id === 'string') return object.id;
  return typeof event.account === 'string' ? event.account : null;
}

/** An id given as itself, or as the expanded object that carries it. */
function idOf(reference: unknown): string | null {
  if (typeof reference === 'string') return reference;
  if (reference && typeof reference === 'object' && 'id' in reference && typeof reference.id === 'string')
    return reference.id;
  return null;
}
