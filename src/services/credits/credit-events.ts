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
 */
export class CreditEvents {
  constructor(
    private readonly pubSub: BillingPubSub,
    private readonly logger: Logger,
  ) {}

  private readonly listeners: Array<{ listener: BalanceListener; autoTopUpOnly: boolean }> = [];

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
   */
  async balanceChanged(
    accountId: string,
    figures: CreditBalanceView,
    autoTopUp: boolean,
    lowBalance?: LowBalanceState | null,
  ): Promise<void> {
    try {
      const payload: BalanceUpdatedPayload = { accountId, ...figures };
      for (const { listener, autoTopUpOnly } of this.listeners)
        if (autoTopUp || !autoTopUpOnly) void listener(accountId, figures.available, lowBalance ?? undefined);
      await this.pubSub.publish(Topic.BALANCE_UPDATED, accountId, payload);
    } catch (error) {
      this.logger.warn({ accountId, err: error }, 'could not publish balanceUpdated');
    }
  }
}
