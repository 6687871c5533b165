import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { Logger } from '../services/logger';
import type { BillingNotifications } from './billing-notifications';

/** Interim: logs what would be mailed, until the mail outbox is wired in. */
export class LoggedNotifications implements BillingNotifications {
  constructor(private readonly logger: Logger) {}

  async paymentFailed(_em: EntityManager, accountId: string, invoice: Stripe.Invoice): Promise<void> {
    this.logger.info({ accountId, invoice: invoice.id }, 'notification: payment failed');
  }

  async trialWillEnd(
    _em: EntityManager,
    accountId: string,
    subscription: Stripe.Subscription,
  ): Promise<void> {
    this.logger.info({ accountId, subscription: subscription.id }, 'notification: trial will end');
  }

  async subscriptionCanceled(
    _em: EntityManager,
    accountId: string,
    subscription: Stripe.Subscription,
  ): Promise<void> {
    this.logger.info({ accountId, subscription: subscription.id }, 'notification: subscription canceled');
  }
}
