import type Stripe from 'stripe';
import type { Effect, HandlerTools, WebhookHandler } from '../handler.types';

/** customer.created and customer.updated: our row takes Stripe's current email, name and address. */
export const customerChanged: WebhookHandler = async (event, tools) => {
  const id = (event.data.object as Stripe.Customer).id;
  const customer = await tools.stripe.call('customers.retrieve', (sdk) => sdk.customers.retrieve(id));
  if (customer.deleted) return customerGone(id, tools);
  return async (tx, observedAt) => accountsOf(await tools.customers.applyCustomer(tx, customer, observedAt));
};

/** customer.deleted: the row stays (history keeps its owner) but is marked deleted. */
export const customerDeleted: WebhookHandler = async (event, tools) =>
  customerGone((event.data.object as Stripe.Customer).id, tools);

function customerGone(stripeCustomerId: string, tools: HandlerTools): Effect {
  return async (tx) => accountsOf(await tools.customers.markDeleted(tx, stripeCustomerId));
}

function accountsOf(accountId: string | null): string[] {
  return accountId ? [accountId] : [];
}
