import type Stripe from 'stripe';
import { effectResultOf, type WebhookHandler } from '../handler.types';
import { idOf } from '../../services/stripe/expandable';
import { settleDuplicates } from './subscription.handlers';

/**
 * checkout.session.completed: the session, its customer and its subscription as Stripe has them now, applied by
 * `CheckoutSync` (which links the customer only to the account this service created the session for); a
 * second paid subscription of the account is cancelled (`settleDuplicates`).
 */
export const checkoutCompleted: WebhookHandler = async (event, tools) => {
  const id = (event.data.object as Stripe.Checkout.Session).id;
  const session = await tools.stripe.call('checkout.sessions.retrieve', (sdk) =>
    sdk.checkout.sessions.retrieve(id),
  );
  const stripeCustomerId = idOf(session.customer);
  const subscriptionId = idOf(session.subscription);
  const subscription = subscriptionId
    ? await tools.stripe.call('subscriptions.retrieve', (sdk) => sdk.subscriptions.retrieve(subscriptionId))
    : null;
  const customer = stripeCustomerId
    ? await tools.stripe.call('customers.retrieve', (sdk) => sdk.customers.retrieve(stripeCustomerId))
    : null;
  // Stripe calls that change something (a duplicate's cancellation and refund) happen here, before the
  // transaction; what they did is written in it.
  const duplicates = subscription ? await settleDuplicates(subscription, tools) : null;
  return async (tx, observedAt) => {
    const applied = await tools.checkouts.applyCompleted(tx, { session, customer, subscription }, observedAt);
    if (!applied.customer) return [];
    const settled = duplicates ? effectResultOf(await duplicates(tx, observedAt)) : null;
    return {
      accounts: [applied.accountId],
      provision: [applied.accountId],
      afterCommit: settled?.afterCommit ?? [],
    };
  };
};
