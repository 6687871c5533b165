import type Stripe from 'stripe';
import type { WebhookHandler } from '../handler.types';
import { idOf, linkCustomer } from './linking';

/**
 * checkout.session.completed: links the Stripe customer to the account named by `client_reference_id`, and
 * stores the new subscription. Events about this customer that arrived first were answered 500 and come back.
 */
export const checkoutCompleted: WebhookHandler = async (event, tools) => {
  const id = (event.data.object as Stripe.Checkout.Session).id;
  const session = await tools.stripe.call('checkout.sessions.retrieve', (sdk) =>
    sdk.checkout.sessions.retrieve(id),
  );
  const accountId = session.client_reference_id ?? session.metadata?.account_id ?? null;
  const stripeCustomerId = idOf(session.customer);
  const subscriptionId = idOf(session.subscription);
  const subscription = subscriptionId
    ? await tools.stripe.call('subscriptions.retrieve', (sdk) => sdk.subscriptions.retrieve(subscriptionId))
    : null;
  // A customer Checkout made without our metadata: its customer.created came before this link and found no
  // row to update, so its contact details are taken here, at the link.
  const stripeCustomer =
    accountId && stripeCustomerId
      ? await tools.stripe.call('customers.retrieve', (sdk) => sdk.customers.retrieve(stripeCustomerId))
      : null;
  return async (em, observedAt) => {
    // A checkout not started by this service (no account): nothing to link.
    if (!accountId || !stripeCustomerId) return [];
    const customer = await linkCustomer(em, accountId, stripeCustomerId);
    if (
      stripeCustomer &&
      !stripeCustomer.deleted &&
      customer.stripeCustomerId === stripeCustomerId &&
      !(customer.stripeUpdatedAt && customer.stripeUpdatedAt > observedAt)
    ) {
      tools.customers.applyStripeCustomer(customer, stripeCustomer);
      customer.stripeUpdatedAt = observedAt;
      await em.flush();
    }
    if (subscription) await tools.subscriptions.apply(em, customer, subscription, observedAt);
    return [accountId];
  };
};
