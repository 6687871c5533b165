import { BillingError } from '../../errors';
import { listAll } from '../stripe/all-pages';
import type { StripeClient } from '../stripe/stripe-client';

/**
 * Expires a customer's other open subscription Checkout Sessions. Two open sessions could both be paid, leaving two billed
 * subscriptions; so only the newest way to subscribe stays open (and none once the account subscribes directly).
 * A session that stopped being open between the list and its expiry (paid or expired that very moment) is left
 * as it is: Stripe refuses to expire anything but an open session
 * (https://docs.stripe.com/api/checkout/sessions/expire), and a payment that won the race is caught as a
 * duplicate on its webhook.
 */
export async function expireOpenCheckouts(
  stripe: StripeClient,
  customerId: string,
  keep?: string,
): Promise<number> {
  // Every page (row 116): a subscription Checkout behind a hundred newer open sessions (credit packs' Checkouts,
  // cards' setup pages, left open for their 24 hours) stayed payable beside the new subscription.
  const { items: open } = await listAll((startingAfter) =>
    stripe.call('checkout.sessions.list', (sdk) =>
      sdk.checkout.sessions.list({
        customer: customerId,
        status: 'open',
        limit: 100,
        starting_after: startingAfter,
      }),
    ),
  );
  let expired = 0;
  // Only a way to subscribe: a credit pack's Checkout or a card's setup page makes no second subscription.
  const subscribing = open.filter((candidate) => candidate.mode === 'subscription' && candidate.id !== keep);
  for (const session of subscribing) {
    if (await expire(stripe, session.id)) expired += 1;
  }
  return expired;
}

/** True when the session was expired now; false when it was no longer open. */
async function expire(stripe: StripeClient, sessionId: string): Promise<boolean> {
  try {
    await stripe.call(
      'checkout.sessions.expire',
      (sdk, options) => sdk.checkout.sessions.expire(sessionId, {}, options),
      { name: `checkout.expire:${sessionId}` },
    );
    return true;
  } catch (error) {
    if (!(error instanceof BillingError)) throw error;
    const now = await stripe.call('checkout.sessions.retrieve', (sdk) =>
      sdk.checkout.sessions.retrieve(sessionId),
    );
    if (now.status === 'open') throw error;
    return false;
  }
}
