import type { StripeClient } from './stripe/stripe-client';

/**
 * Expires a customer's other open Checkout Sessions. Two open sessions could both be paid, leaving two billed
 * subscriptions; so only the newest way to subscribe stays open (and none once the account subscribes directly).
 */
export async function expireOpenCheckouts(
  stripe: StripeClient,
  customerId: string,
  keep?: string,
): Promise<number> {
  const open = await stripe.call('checkout.sessions.list', (sdk) =>
    sdk.checkout.sessions.list({ customer: customerId, status: 'open', limit: 100 }),
  );
  const stale = open.data.filter((session) => session.id !== keep);
  for (const session of stale) {
    await stripe.call(
      'checkout.sessions.expire',
      (sdk, options) => sdk.checkout.sessions.expire(session.id, {}, options),
      { name: `checkout.expire:${session.id}` },
    );
  }
  return stale.length;
}
