import type { BillingPubSub } from '../../pubsub/pubsub';
import { type AccountUpdatedPayload, type EntitlementsChangedPayload, Topic } from '../../pubsub/topics';
import type { Logger } from '../../logging/logger';

/**
 * Tells live subscribers that an account's billing changed. Called only after the change is committed; a
 * failure to publish is logged and never undoes or fails the change (clients also re-read on reconnect).
 */
export class AccountEvents {
  private readonly localListeners: Array<(accountId: string) => void> = [];

  constructor(
    private readonly pubSub: BillingPubSub,
    private readonly logger: Logger,
  ) {}

  /**
   * Called on this instance, at once, for every change it announces: its own caches must not wait for the
   * message to come back through Redis, or the caller's next request (a use right after an upgrade) could be
   * decided on what was true before the change. Other instances learn of it through pub/sub.
   */
  onLocalChange(listener: (accountId: string) => void): void {
    this.localListeners.push(listener);
  }

  async accountUpdated(accountId: string, reason: string): Promise<void> {
    const payload: AccountUpdatedPayload = { accountId, reason };
    const changed: EntitlementsChangedPayload = { accountId };
    for (const listener of this.localListeners) listener(accountId);
    try {
      // Caches first: a client told of the change may check access the next moment, on any instance. Both go
      // out at once on the publisher's one connection, which Redis serves in order, so the caches still hear
      // first; and they share one socket write (auto-pipelining) instead of waiting for each other's reply.
      await Promise.all([
        this.pubSub.publish(Topic.ENTITLEMENTS_CHANGED, changed),
        this.pubSub.publish(Topic.ACCOUNT_UPDATED, accountId, payload),
      ]);
    } catch (error) {
      this.logger.warn({ accountId, reason, err: error }, 'could not publish accountUpdated');
    }
  }
}
