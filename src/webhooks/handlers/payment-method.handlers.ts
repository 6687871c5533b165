import type Stripe from 'stripe';
import type { Effect, HandlerTools, WebhookHandler } from '../handler.types';
import { chargedCardOf } from '../../services/invoices/charged-card';
import { idOf } from '../../services/stripe/expandable';

/**
 * payment_method.attached, .updated, .automatically_updated and .detached: the card as Stripe has it now (a detached
 * card has no customer and is removed; an updated one, by the API or by the card network, carries its new expiry),
 * with the customer's default card marked.
 */
export const paymentMethodChanged: WebhookHandler = async (event, tools) =>
  cardAsStripeHasIt((event.data.object as Stripe.PaymentMethod).id, tools);

/**
 * setup_intent.succeeded: a card was set up for future payments (the hosted setup page, or a SetupIntent confirmed
 * by a frontend, https://docs.stripe.com/payments/save-and-reuse): the card it saved, as Stripe has it now, on the
 * account of its customer. `payment_method.attached` usually says the same first; whichever comes first writes the
 * row, the other finds it true. A SetupIntent without a customer saved nothing of an account's.
 */
export const setupIntentSucceeded: WebhookHandler = async (event, tools) =>
  cardOfSetupIntent((event.data.object as Stripe.SetupIntent).id, tools);

/** The card a SetupIntent saved, applied as `cardAsStripeHasIt`; nothing while it has not succeeded. */
export async function cardOfSetupIntent(setupIntentId: string, tools: HandlerTools): Promise<Effect> {
  const setupIntent = await tools.stripe.call('setupIntents.retrieve', (sdk) =>
    sdk.setupIntents.retrieve(setupIntentId),
  );
  const paymentMethodId = idOf(setupIntent.payment_method);
  if (setupIntent.status !== 'succeeded' || !paymentMethodId || !idOf(setupIntent.customer)) {
    return async () => [];
  }
  return cardAsStripeHasIt(paymentMethodId, tools);
}

/** The effect that makes our row of one card equal to Stripe's card now. */
export async function cardAsStripeHasIt(id: string, tools: HandlerTools): Promise<Effect> {
  const paymentMethod = await tools.stripe.call('paymentMethods.retrieve', (sdk) =>
    sdk.paymentMethods.retrieve(id),
  );
  const stripeCustomerId = idOf(paymentMethod.customer);
  if (!stripeCustomerId) {
    return async (tx, observedAt) => {
      const accountId = await tools.paymentMethods.applyDetached(tx, paymentMethod, observedAt);
      return accountId ? [accountId] : [];
    };
  }
  const customer = await tools.stripe.call('customers.retrieve', (sdk) =>
    sdk.customers.retrieve(stripeCustomerId),
  );
  const live = customer.deleted ? null : customer;
  const defaultId = live ? await defaultPaymentMethodOf(live, tools) : null;
  return async (tx, observedAt) => {
    const owner = await tools.customers.ownerOf(tx, stripeCustomerId, live?.metadata?.account_id);
    await tools.paymentMethods.apply(tx, owner, paymentMethod, defaultId, observedAt);
    return [owner.accountId];
  };
}

/** The card that will be charged (`chargedCardOf`); the subscription is listed only when the customer has none. */
async function defaultPaymentMethodOf(
  customer: Stripe.Customer,
  tools: HandlerTools,
): Promise<string | null> {
  const customerDefault = chargedCardOf(customer, null);
  if (customerDefault) return customerDefault;
  const subscriptions = await tools.stripe.call('subscriptions.list', (sdk) =>
    sdk.subscriptions.list({ customer: customer.id, limit: 1 }),
  );
  return chargedCardOf(customer, subscriptions.data[0]);
}
