import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { type BillingCustomer, LIVE_STATUSES, Subscription } from '../../entities';
import { NotFoundError } from '../../errors';
import type { CustomerManager } from '../accounts/customer-manager';
import type { StripeClient } from '../stripe/stripe-client';
import type { SubscriptionSync } from './subscription-sync';
import type { Clock } from '../time/clock';
import type { FeatureProvisioner } from './feature-provisioner';

/**
 * Our table of subscriptions as the lifecycle services use it: the account's live subscription, and Stripe's
 * answers stored with the account's entitlements provisioned in the same transaction.
 */
export class SubscriptionStore {
  constructor(
    private readonly stripe: StripeClient,
    private readonly customers: CustomerManager,
    private readonly sync: SubscriptionSync,
    private readonly provisioner: FeatureProvisioner,
    private readonly clock: Clock,
  ) {}

  /** The account's live subscription (trialing, active, past due, …), or null. */
  live(em: EntityManager, accountId: string): Promise<Subscription | null> {
    return em.findOne(
      Subscription,
      { accountId, status: { $in: [...LIVE_STATUSES] } },
      { orderBy: { createdAt: 'desc' } },
    );
  }

  async requireLive(em: EntityManager, accountId: string): Promise<Subscription> {
    const current = await this.live(em, accountId);
    if (!current) throw new NotFoundError('A live subscription of this account');
    return current;
  }

  retrieve(subscriptionId: string): Promise<Stripe.Subscription> {
    return this.stripe.call('subscriptions.retrieve', (sdk) => sdk.subscriptions.retrieve(subscriptionId));
  }

  customerOf(em: EntityManager, subscription: Subscription): Promise<BillingCustomer> {
    return this.customers.require(em, subscription.accountId);
  }

  /** Reads the account's subscription from Stripe and stores it (used after checkout and on demand). */
  async refresh(
    em: EntityManager,
    customer: BillingCustomer,
    stripeSubscriptionId: string,
  ): Promise<Subscription> {
    const observedAt = this.clock.now();
    const subscription = await this.retrieve(stripeSubscriptionId);
    return this.store(em, customer, subscription, observedAt);
  }

  /**
   * Stores Stripe's answer and re-provisions the account's entitlements at once, so the caller's next read
   * shows the new plan without waiting for the webhook (which will find nothing left to change).
   */
  async store(
    em: EntityManager,
    customer: BillingCustomer,
    subscription: Stripe.Subscription,
    observedAt: Date,
  ): Promise<Subscription> {
    // One transaction: a row stored without its entitlements would stay so, since the webhook that follows
    // finds the row unchanged and provisions only what changed.
    return em.transactional(async (tx) => {
      const stored = await this.sync.apply(tx, customer, subscription, observedAt);
      // Provisioned for now, not for the read stamp: the stamp may be from before Stripe started the period.
      await this.provisioner.provision(tx, customer.accountId, this.clock.now());
      return stored;
    });
  }

  /**
   * Stores what Stripe answered to a change we made, stamped when the answer came back (ADR 0005 stamps a
   * *read* before it starts). A write's answer holds the change itself: a webhook handler that read Stripe while
   * the change was in flight, and so read the state before it, must lose to it, and stamped at the start of the
   * call the change would lose to such a read.
   */
  storeWritten(
    em: EntityManager,
    customer: BillingCustomer,
    subscription: Stripe.Subscription,
  ): Promise<Subscription> {
    return this.store(em, customer, subscription, this.clock.now());
  }

  /** Stores Stripe's answer to a change of `current`, for `current`'s customer. */
  async storeWrittenFor(
    em: EntityManager,
    current: Subscription,
    subscription: Stripe.Subscription,
  ): Promise<Subscription> {
    return this.storeWritten(em, await this.customerOf(em, current), subscription);
  }
}
