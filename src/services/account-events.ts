import type { BillingPubSub } from '../pubsub/pubsub';
import { type AccountUpdatedPayload, type EntitlementsChangedPayload, Topic } from '../pubsub/topics';
import type { Logger } from './logger';

/**
 * Tells live subscribers that an account's billing changed. Called only after the change is committed; a
 * failure to publish is logged and never undoes or fails the change (clients also re-read on reconnect).
 */
export class AccountEvents {
  constructor(
    private readonly pubSub: BillingPubSub,
    private readonly logger: Logger,
  ) {}

  async accountUpdated(accountId: string, reason: string): Promise<void> {
    const payload: AccountUpdatedPayload = { accountId, reason };
    const changed: EntitlementsChangedPayload = { accountId };
    try {
      // Caches first: a client told of the change may check access the next moment, on any instance.
      await this.pubSub.publish(Topic.ENTITLEMENTS_CHANGED, changed);
      await this.pubSub.publish(Topic.ACCOUNT_UPDATED, accountId, payload);
    } catch (error) {
      this.logger.warn({ accountId, reason, err: error }, 'could not publish accountUpdated');
    }
  }
}
