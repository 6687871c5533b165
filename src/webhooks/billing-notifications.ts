import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';

/**
 * The mails webhooks cause. Each call writes to the outbox inside the event's transaction, keyed so that an
 * event processed twice still sends one mail.
 */
export interface BillingNotifications {
  paymentFailed(em: EntityManager, accountId: string, invoice: Stripe.Invoice): Promise<void>;
  paymentActionRequired(em: EntityManager, accountId: string, invoice: Stripe.Invoice): Promise<void>;
  trialWillEnd(em: EntityManager, accountId: string, subscription: Stripe.Subscription): Promise<void>;
  subscriptionCanceled(
    em: EntityManager,
    accountId: string,
    subscription: Stripe.Subscription,
    eventId: string,
  ): Promise<void>;
}
