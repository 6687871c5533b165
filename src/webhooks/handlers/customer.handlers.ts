import { LockMode } from '@mikro-orm/core';
import type Stripe from 'stripe';
import { BillingCustomer } from '../../entities';
import { ACCOUNT_ID_METADATA } from '../../services/accounts/customer-manager';
import type { Effect, HandlerTools, WebhookHandler } from '../handler.types';
import { linkCustomer } from './linking';

/** customer.created and customer.updated: our row takes Stripe's current email, name and address. */
export const customerChanged: WebhookHandler = async (event, tools) => {
  const id = (event.data.object as Stripe.Customer).id;
  const customer = await tools.stripe.call('customers.retrieve', (sdk) => sdk.customers.retrieve(id));
  if (customer.deleted) return customerGone(id);
  return applyCustomer(customer, tools);
};

/** customer.deleted: the row stays (history keeps its owner) but is marked deleted. */
export const customerDeleted: WebhookHandler = async (event) =>
  customerGone((event.data.object as Stripe.Customer).id);

function applyCustomer(customer: Stripe.Customer, tools: HandlerTools): Effect {
  return async (em, observedAt) => {
    const accountId = customer.metadata?.[ACCOUNT_ID_METADATA];
    // Locked: the check below and the write are one step against a concurrent updateCustomer or webhook.
    const row =
      (await em.findOne(
        BillingCustomer,
        { stripeCustomerId: customer.id },
        { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
      )) ?? (accountId ? await linkCustomer(em, accountId, customer.id) : null);
    // A customer made outside this service (no account id): nothing of ours to update.
    if (!row) return [];
    if (row.stripeUpdatedAt && row.stripeUpdatedAt > observedAt) return [];
    tools.customers.applyStripeCustomer(row, customer);
    row.stripeUpdatedAt = observedAt;
    await em.flush();
    return [row.accountId];
  };
}

function customerGone(stripeCustomerId: string): Effect {
  return async (em) => {
    const row = await em.findOne(BillingCustomer, { stripeCustomerId });
    if (!row || row.deletedAt) return [];
    row.deletedAt = new Date();
    await em.flush();
    return [row.accountId];
  };
}
