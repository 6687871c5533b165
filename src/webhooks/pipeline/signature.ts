import Stripe from 'stripe';

/** Stripe's own tolerance: a signature older than five minutes is a replay. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export class InvalidWebhookError extends Error {}

/** A verified delivery: the event, and the body's text it was parsed from (the inbox stores that text as is). */
export interface VerifiedDelivery {
  event: Stripe.Event;
  text: string;
}

/**
 * Verifies a delivery with `stripe.webhooks.constructEvent` against each configured secret (several during a
 * rotation) and returns the event with the body's text (the inbox stores that text as is, so it is decoded once
 * here). Anything else — no header, a forged or stale signature, a body that is not an event — is an
 * `InvalidWebhookError`, answered 400 before anything is stored. The SDK's check, not ours: it is the code Stripe
 * keeps in step with its scheme, and doing it by hand saved 4 µs of a 430 µs answer (ADR 0031).
 */
export function verifyWebhook(
  rawBody: Buffer,
  signature: string | undefined,
  secrets: readonly string[],
  nowMs: number = Date.now(),
): VerifiedDelivery {
  if (!signature) throw new InvalidWebhookError('missing Stripe-Signature header');
  if (secrets.length === 0)
    throw new InvalidWebhookError('no webhook secret is configured (STRIPE_WEBHOOK_SECRET)');
  for (const secret of secrets) {
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(
        rawBody,
        signature,
        secret,
        SIGNATURE_TOLERANCE_SECONDS,
        undefined,
        nowMs,
      );
    } catch {
      continue;
    }
    if (!isEvent(event)) throw new InvalidWebhookError('the body is not a Stripe event');
    return { event, text: rawBody.toString('utf8') };
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
