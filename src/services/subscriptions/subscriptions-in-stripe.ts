import type Stripe from 'stripe';
import { LIVE_STATUSES } from '../../entities';
import { listAll } from '../stripe/all-pages';
import type { StripeClient } from '../stripe/stripe-client';

/** What Stripe holds of one customer's subscriptions: all of them (canceled too, every page) and the live one. */
export interface SubscriptionsInStripe {
  all: Stripe.Subscription[];
  live: Stripe.Subscription | undefined;
}

/**
 * Every subscription Stripe has for the customer, read to the last page: the one-subscription rule (billing
 * rules 19) and trials look here for what our database may not have heard of yet, and a live subscription behind
 * a hundred newer ended ones (abandoned checkouts make them) must still be found.
 */
export async function subscriptionsInStripe(
  stripe: StripeClient,
  stripeCustomerId: string,
): Promise<SubscriptionsInStripe> {
  const { items: all } = await listAll((startingAfter) =>
    stripe.call('subscriptions.list', (sdk) =>
      sdk.subscriptions.list({
        customer: stripeCustomerId,
        status: 'all',
        limit: 100,
        starting_after: startingAfter,
      }),
    ),
  );
  const live = all.find((subscription) => (LIVE_STATUSES as readonly string[]).includes(subscription.status));
  return { all, live };
}
