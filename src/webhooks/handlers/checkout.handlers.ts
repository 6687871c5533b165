import type Stripe from 'stripe';
import { type Effect, effectResultOf, type HandlerTools, type WebhookHandler } from '../handler.types';
import { cardOfSetupIntent } from './payment-method.handlers';
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
  if (session.mode === 'setup') return setupCompleted(session, tools);
  // A one-time payment (a credit pack): its invoice's `invoice.paid` grants; the session links and changes nothing.
  if (session.mode === 'payment') return async () => [];
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

/**
 * A setup session (a card added on the hosted page): the card its SetupIntent saved, as Stripe has it now, on the
 * customer's account. Its customer is one we already hold (the setup session is made for an account's customer),
 * so nothing is linked; `payment_method.attached` says the same and whichever comes first writes the row.
 */
async function setupCompleted(session: Stripe.Checkout.Session, tools: HandlerTools): Promise<Effect> {
  const setupIntentId = idOf(session.setup_intent);
  if (!setupIntentId) return async () => [];
  return cardOfSetupIntent(setupIntentId, tools);
}
