import type Stripe from 'stripe';
import { effectResultOf, NotOursError, type WebhookHandler } from '../handler.types';
import { linkCustomer } from './linking';
import { idOf } from '../../services/stripe/expandable';
import { settleDuplicates } from './subscription.handlers';

/**
 * checkout.session.completed: links the Stripe customer to the account this service created the session for
 * (`CheckoutRecords.ownerOf`; a session we did not create is kept as ignored, never linked), stores the new
 * subscription, and cancels it if the account already had one. Events about this customer that arrived first
 * were answered 500 and come back.
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
  // A customer Checkout made without our metadata: its customer.created came before this link and found no
  // row to update, so its contact details are taken here, at the link.
  const stripeCustomer = stripeCustomerId
    ? await tools.stripe.call('customers.retrieve', (sdk) => sdk.customers.retrieve(stripeCustomerId))
    : null;
  // Stripe calls that change something (a duplicate's cancellation and refund) happen here, before the
  // transaction; what they did is written in it.
  const duplicates = subscription ? await settleDuplicates(subscription, tools) : null;
  return async (em, observedAt) => {
    const owner = await tools.checkouts.ownerOf(em, session);
    if ('ignored' in owner) throw new NotOursError(owner.ignored);
    // A session without a customer (a setup or one-off payment) has nothing to link.
    if (!stripeCustomerId) return [];
    const customer = await linkCustomer(em, owner.accountId, stripeCustomerId);
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
    const settled = duplicates ? effectResultOf(await duplicates(em, observedAt)) : null;
    return {
      accounts: [owner.accountId],
      provision: [owner.accountId],
      afterCommit: settled?.afterCommit ?? [],
    };
  };
};
