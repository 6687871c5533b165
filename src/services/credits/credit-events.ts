import type { Logger } from '../../logging/logger';
import type { BillingPubSub } from '../../pubsub/pubsub';
import { type BalanceUpdatedPayload, Topic } from '../../pubsub/topics';
import type { CreditBalanceView } from './credit-ledger.types';
import type { LowBalanceState } from './low-balance-alerts';

/** `lowBalance`: the low-balance mail's state as the change read it with the account's lock, when it did. */
type BalanceListener = (accountId: string, available: number, lowBalance?: LowBalanceState) => Promise<void>;

/**
 * Publishes `BALANCE_UPDATED` on the account's own channel, after a change of its balance or held was committed,
 * with the figures that change's transaction ended with (no second read: the model-call hot path pays for every
 * statement), so a subscriber never sees what a rolled-back transaction wrote. A failure to publish is logged
 * and never undoes the change (clients read `viewer.balance` again on reconnect).
 *
 * An account's publishes go out in the order of their changes' commits, each after the one before it finished
 * (a chain per account), whether its caller waits for it (`balanceChanged`) or not (`announce`, the credit
 * groups: ADR 0032); `published` waits for all of them (shutdown, tests).
 */
export class CreditEvents {
  constructor(
    private readonly pubSub: BillingPubSub,
    private readonly logger: Logger,
  ) {}

  private readonly listeners: Array<{ listener: BalanceListener; autoTopUpOnly: boolean }> = [];
  /** Each account's latest publish not finished yet: the next one of the account starts after it. */
  private readonly publishing = new Map<string, Promise<void>>();

  /**
   * Calls `listener` after every committed change of an account's credits, with what is available then (the
   * low-balance mail). It runs beside the caller, not before its answer: a model call's hold never waits for it.
   */
  onBalanceChanged(listener: BalanceListener): void {
    this.listeners.push({ listener, autoTopUpOnly: false });
  }

  /**
   * As `onBalanceChanged`, for accounts with automatic top-up on only (the change's transaction read whether it
   * is): the top-up's own check, which for any other account would find nothing to do.
   */
  onAutoTopUpBalanceChanged(listener: BalanceListener): void {
    this.listeners.push({ listener, autoTopUpOnly: true });
  }

  /**
   * After the commit of a change of the account's credits: `figures` are those its transaction ended with;
   * `autoTopUp` whether the account had automatic top-up on (else its listener would find nothing to do).
   * Resolves once published (or its failure logged): never rejects.
   */
  balanceChanged(
    accountId: string,
    figures: CreditBalanceView,
    autoTopUp: boolean,
    lowBalance?: LowBalanceState | null,
  ): Promise<void> {
    try {
      for (const { listener, autoTopUpOnly } of this.listeners)
        if (autoTopUp || !autoTopUpOnly) void listener(accountId, figures.available, lowBalance ?? undefined);
    } catch (error) {
      // A listener that throws at once must not reach a caller whose change is committed (nor skip the publish).
      this.logger.warn({ accountId, err: error }, 'a balanceUpdated listener failed');
    }
    return this.publishAfterEarlier(accountId, { accountId, ...figures });
  }

  /**
   * As `balanceChanged`, without waiting for the publish: a credit group answers its callers, whose changes are
   * committed, and takes its next group while Redis answers (ADR 0032). The publish still follows the account's
   * earlier ones and is never dropped while the process runs; its failure is logged.
   */
  announce(
    accountId: string,
    figures: CreditBalanceView,
    autoTopUp: boolean,
    lowBalance?: LowBalanceState | null,
  ): void {
    void this.balanceChanged(accountId, figures, autoTopUp, lowBalance);
  }

  /** Resolves when every publish asked for so far has finished (before the pub/sub closes at shutdown). */
  async published(): Promise<void> {
    while (this.publishing.size > 0) await Promise.all(this.publishing.values());
  }

  private publishAfterEarlier(accountId: string, payload: BalanceUpdatedPayload): Promise<void> {
    const earlier = this.publishing.get(accountId);
    const publish = earlier
      ? earlier.then(() => this.publish(accountId, payload))
      : this.publish(accountId, payload);
    this.publishing.set(accountId, publish);
    void publish.then(() => {
      if (this.publishing.get(accountId) === publish) this.publishing.delete(accountId);
    });
    return publish;
  }

  private async publish(accountId: string, payload: BalanceUpdatedPayload): Promise<void> {
    try {
      await this.pubSub.publish(Topic.BALANCE_UPDATED, accountId, payload);
    } catch (error) {
      this.logger.warn({ accountId, err: error }, 'could not publish balanceUpdated');
    }
  }
}
