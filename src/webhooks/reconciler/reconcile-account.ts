import type Stripe from 'stripe';
import type { StripeClient } from '../../services/stripe/stripe-client';
import { chargedCardOf } from '../../services/invoices/charged-card';
import { listAll } from '../../services/stripe/all-pages';

/** How many of an account's latest invoices a resync re-applies. */
export const RESYNC_INVOICE_COUNT = 24;
const PAGE = 100;

/** Everything Stripe holds about one customer that we keep a copy of, read before any transaction opens. */
export interface StripeAccountSnapshot {
  customer: Stripe.Customer | Stripe.DeletedCustomer;
  subscriptions: Stripe.Subscription[];
  invoices: Stripe.Invoice[];
  paymentMethods: Stripe.PaymentMethod[];
  /** True when `paymentMethods` is the customer's whole list, so a card missing from it was detached. */
  paymentMethodsComplete: boolean;
  /** The card that will be charged: the customer's default, else the live subscription's own. */
  defaultPaymentMethodId: string | null;
}

/** Reads a customer, all its subscriptions (canceled ones too), its recent invoices and its cards. */
export async function readStripeAccount(
  stripe: StripeClient,
  stripeCustomerId: string,
): Promise<StripeAccountSnapshot> {
  const customer = await stripe.call('customers.retrieve', (sdk) => sdk.customers.retrieve(stripeCustomerId));
  if (customer.deleted) {
    return {
      customer,
      subscriptions: [],
      invoices: [],
      paymentMethods: [],
      paymentMethodsComplete: false,
      defaultPaymentMethodId: null,
    };
  }
  const subscriptions = await listAll((startingAfter) =>
    stripe.call('subscriptions.list', (sdk) =>
      sdk.subscriptions.list({
        customer: stripeCustomerId,
        status: 'all',
        limit: PAGE,
        starting_after: startingAfter,
      }),
    ),
  );
  const invoices = await stripe.call('invoices.list', (sdk) =>
    sdk.invoices.list({ customer: stripeCustomerId, limit: RESYNC_INVOICE_COUNT }),
  );
  const paymentMethods = await stripe.call('customers.listPaymentMethods', (sdk) =>
    sdk.customers.listPaymentMethods(stripeCustomerId, { limit: PAGE }),
  );
  const live = subscriptions.items.find((subscription) => subscription.status !== 'canceled');
  return {
    customer,
    subscriptions: subscriptions.items,
    invoices: invoices.data,
    paymentMethods: paymentMethods.data,
    paymentMethodsComplete: !paymentMethods.has_more,
    defaultPaymentMethodId: chargedCardOf(customer, live),
  };
}
