import type Stripe from 'stripe';
import { BillingError, ErrorCode } from '../../errors';
import type { StripeClient } from '../stripe/stripe-client';

/** A session asked for again within this window (a double click, a network retry) is the same session. */
const SAME_SESSION_WINDOW_MS = 10 * 60 * 1000;

/**
 * How many sessions the window's key may hand back that are no longer open (expired, or completed and then
 * cancelled) before we give up: each one moves the key on, so a retry walks the same short chain.
 */
const MAX_CLOSED_REPLAYS = 5;

/**
 * Creates a Checkout Session, never handing back one that cannot be used. Within the window the key (`keyPrefix`
 * and the window) replays Stripe's first answer, which says `open` even when that session has expired or
 * completed since (Stripe stores the response, not the object: https://docs.stripe.com/api/idempotent_requests).
 * So a replayed answer is read again; a session no longer open moves the key on (derived from it, so a retry of
 * the same call walks the same chain and lands on the same new session). Used for subscribing and for adding a
 * card (`setup` mode).
 */
export async function createOpenSession(
  stripe: StripeClient,
  keyPrefix: string,
  params: Stripe.Checkout.SessionCreateParams,
): Promise<Stripe.Checkout.Session> {
  let name = `${keyPrefix}:${Math.floor(Date.now() / SAME_SESSION_WINDOW_MS)}`;
  for (let attempt = 0; attempt <= MAX_CLOSED_REPLAYS; attempt++) {
    const answer = await stripe.call(
      'checkout.sessions.create',
      (sdk, options) => sdk.checkout.sessions.create(params, options),
      { name, params },
    );
    const session = wasReplayed(answer)
      ? await stripe.call('checkout.sessions.retrieve', (sdk) => sdk.checkout.sessions.retrieve(answer.id))
      : answer;
    if (session.status === 'open') return session;
    name = `${keyPrefix}:after:${session.id}`;
  }
  throw new BillingError(
    ErrorCode.STRIPE_ERROR,
    'Stripe kept answering with Checkout Sessions that are no longer open; try again in a moment',
  );
}

/** Stripe marks an idempotent replay with `Idempotent-Replayed: true`. */
function wasReplayed(answer: Stripe.Response<unknown>): boolean {
  return answer.lastResponse?.headers?.['idempotent-replayed'] === 'true';
}
