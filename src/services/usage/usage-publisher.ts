import type { BillingPubSub } from '../../pubsub/pubsub';
import { Topic, type UsageUpdatedPayload } from '../../pubsub/topics';
import type { Logger } from '../../logging/logger';
import type { UsageFigures } from './usage-reader';

/**
 * Publishes `usageUpdated` at most once per `intervalMs` per account and metric: the first change at once, then
 * the latest figures at the end of the interval. A usage bar stays live without one message per AI request.
 */
export class UsagePublisher {
  private readonly lastSent = new Map<string, number>();
  private readonly waiting = new Map<string, { accountId: string; figures: UsageFigures }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** The newest counter revision seen per account and metric, in its period: older figures are dropped. */
  private readonly newest = new Map<string, { periodStart: number; revision: number }>();

  constructor(
    private readonly pubSub: BillingPubSub,
    private readonly logger: Logger,
    private readonly intervalMs = 250,
  ) {}

  /**
   * `revision` is the counter row's: commits finishing out of order (several requests of one account at once)
   * must not leave an older figure as the last one published.
   */
  changed(accountId: string, figures: UsageFigures, revision?: number): void {
    const key = `${accountId}\u0000${figures.metric}`;
    if (revision !== undefined && this.isOlder(key, figures, revision)) return;
    const since = Date.now() - (this.lastSent.get(key) ?? 0);
    if (since >= this.intervalMs && !this.timers.has(key)) {
      this.send(key, accountId, figures);
      return;
    }
    // Only the newest figures matter: they replace any still waiting.
    this.waiting.set(key, { accountId, figures });
    if (!this.timers.has(key)) {
      const timer = setTimeout(() => this.sendWaiting(key), Math.max(0, this.intervalMs - since));
      timer.unref();
      this.timers.set(key, timer);
    }
  }

  private isOlder(key: string, figures: UsageFigures, revision: number): boolean {
    const periodStart = figures.periodStart.getTime();
    const newest = this.newest.get(key);
    if (newest && newest.periodStart === periodStart && newest.revision >= revision) return true;
    if (!newest || periodStart >= newest.periodStart) this.newest.set(key, { periodStart, revision });
    return false;
  }

  /** Sends whatever is waiting now (at shutdown). */
  flush(): void {
    for (const key of [...this.timers.keys()]) this.sendWaiting(key);
  }

  private sendWaiting(key: string): void {
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    const waiting = this.waiting.get(key);
    this.waiting.delete(key);
    if (waiting) this.send(key, waiting.accountId, waiting.figures);
  }

  private send(key: string, accountId: string, figures: UsageFigures): void {
    this.lastSent.set(key, Date.now());
    // Keep the map from growing with every account ever seen: entries older than the interval are useless.
    if (this.lastSent.size > 10_000) this.forgetOld();
    const payload: UsageUpdatedPayload = { accountId, ...figures };
    this.pubSub.publish(Topic.USAGE_UPDATED, accountId, payload).catch((error: unknown) => {
      this.logger.warn({ accountId, metric: figures.metric, err: error }, 'could not publish usageUpdated');
    });
  }

  private forgetOld(): void {
    const before = Date.now() - this.intervalMs;
    for (const [key, at] of this.lastSent)
      if (at < before) {
        this.lastSent.delete(key);
        this.newest.delete(key);
      }
  }
}
