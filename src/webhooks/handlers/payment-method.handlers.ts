import type Stripe from 'stripe';
import { BillingCustomer, PaymentMethod } from '../../entities';
import type { HandlerTools, WebhookHandler } from '../handler.types';
import { customerRowFor } from './linking';
import { idOf } from '../../services/stripe/expandable';

/**
 * payment_method.attached and .detached: the card as Stripe has it now (a detached card has no customer and is
 * removed), with the customer's default card marked.
 */
export const paymentMethodChanged: WebhookHandler = async (event, tools) => {
  const id = (event.data.object as Stripe.PaymentMethod).id;
  const paymentMethod = await tools.stripe.call('paymentMethods.retrieve', (sdk) =>
    sdk.paymentMethods.retrieve(id),
  );
  const stripeCustomerId = idOf(paymentMethod.customer);
  const customer = stripeCustomerId
    ? await tools.stripe.call('customers.retrieve', (sdk) => sdk.customers.retrieve(stripeCustomerId))
    : null;
  const defaultId = customer && !customer.deleted ? await defaultPaymentMethodOf(customer, tools) : null;
  return async (em, observedAt) => {
    if (!stripeCustomerId) {
      // Detached: remove it from whichever account had it.
      const row = await em.findOne(PaymentMethod, { stripePaymentMethodId: paymentMethod.id });
      if (!row) return [];
      const owner = await em.findOneOrFail(BillingCustomer, { id: row.customer.id });
      await tools.paymentMethods.apply(em, owner, paymentMethod, null, observedAt);
      return [owner.accountId];
    }
    const metadataAccount = customer && !customer.deleted ? customer.metadata?.account_id : null;
    const row = await customerRowFor(em, stripeCustomerId, metadataAccount);
    await tools.paymentMethods.apply(em, row, paymentMethod, defaultId, observedAt);
    return [row.accountId];
  };
};

/**
 * The card that will be charged: the customer's default, else the live subscription's own default (Checkout
 * sets the card on the subscription, not on the customer).
 */
async function defaultPaymentMethodOf(
  customer: Stripe.Customer,
  tools: HandlerTools,
): Promise<string | null> {
  const customerDefault = idOf(customer.invoice_settings?.default_payment_method);
  if (customerDefault) return customerDefault;
  const subscriptions = await tools.stripe.call('subscriptions.list', (sdk) =>
    sdk.subscriptions.list({ customer: customer.id, limit: 1 }),
  );
  return idOf(subscriptions.data[0]?.default_payment_method);
}
