import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { BillingCustomer } from '../../entities';
import type { CustomerSync } from '../accounts/customer-sync';
import type { CheckoutRecords } from './checkout-records';
import { idOf } from '../stripe/expandable';
import type { SubscriptionSync } from '../subscriptions/subscription-sync';

/**
 * The event is not ours to apply, and never will be (a Checkout Session this service did not create): kept in
 * the inbox as `ignored` with the reason (visible to admins, and replayable), answered 200 so Stripe stops.
 */
export class NotOursError extends Error {}

/** A completed Checkout Session as read from Stripe, with the customer and subscription it made. */
export interface CompletedCheckout {
  session: Stripe.Checkout.Session;
  customer: Stripe.Customer | Stripe.DeletedCustomer | null;
  subscription: Stripe.Subscription | null;
}

/** What a completed checkout changed: the account it belongs to, and its customer row if it had one. */
export interface AppliedCheckout {
  accountId: string;
  customer: BillingCustomer | null;
}

/**
 * A completed Checkout Session: links the Stripe customer to the account this service created the session for
 * (`CheckoutRecords.ownerOf`; a session we did not create is refused with `NotOursError`, never linked), takes
 * the customer's details and stores the new subscription. Events about this customer that arrived first were
 * answered 500 and come back.
 */
export class CheckoutSync {
  constructor(
    private readonly records: CheckoutRecords,
    private readonly customers: CustomerSync,
    private readonly subscriptions: SubscriptionSync,
  ) {}

  async applyCompleted(
    tx: EntityManager,
    checkout: CompletedCheckout,
    observedAt: Date,
  ): Promise<AppliedCheckout> {
    const owner = await this.records.ownerOf(tx, checkout.session);
    if ('ignored' in owner) throw new NotOursError(owner.ignored);
    const stripeCustomerId = idOf(checkout.session.customer);
    // A session without a customer (a setup or one-off payment) has nothing to link.
    if (!stripeCustomerId) return { accountId: owner.accountId, customer: null };
    const customer = await this.customers.link(tx, owner.accountId, stripeCustomerId);
    await this.customers.applyAtLink(tx, customer, checkout.customer, observedAt);
    if (checkout.subscription)
      await this.subscriptions.apply(tx, customer, checkout.subscription, observedAt);
    return { accountId: owner.accountId, customer };
  }
}
