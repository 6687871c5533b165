import Stripe from 'stripe';

/** Stripe's own tolerance: a signature older than five minutes is a replay. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export class InvalidWebhookError extends Error {}

/**
 * Verifies a delivery with `stripe.webhooks.constructEvent` against each configured secret (several during a
 * rotation) and returns the event. Anything else — no header, a forged or stale signature, a body that is not
 * an event — is an `InvalidWebhookError`, answered 400 before anything is stored.
 */
export function verifyWebhook(
  rawBody: Buffer,
  signature: string | undefined,
  secrets: readonly string[],
): Stripe.Event {
  if (!signature) throw new InvalidWebhookError('missing Stripe-Signature header');
  if (secrets.length === 0)
    throw new InvalidWebhookError('no webhook secret is configured (STRIPE_WEBHOOK_SECRET)');
  for (const secret of secrets) {
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(rawBody, signature, secret, SIGNATURE_TOLERANCE_SECONDS);
    } catch {
      continue;
    }
    if (!isEvent(event)) throw new InvalidWebhookError('the body is not a Stripe event');
    return event;
  }
  throw new InvalidWebhookError('the signature does not match any configured secret, or is too old');
}

function isEvent(value: unknown): value is Stripe.Event {
  const event = value as Partial<Stripe.Event> | null;
  return (
    typeof event === 'object' &&
    event !== null &&
    event.object === 'event' &&
    typeof event.id === 'string' &&
    typeof event.type === 'string' &&
    typeof event.created === 'number' &&
    typeof event.data?.object === 'object'
  );
}
