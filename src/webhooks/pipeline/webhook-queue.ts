import type Stripe from 'stripe';
import type { Logger } from '../../logging/logger';
import type { WebhookMetrics } from '../../observability/metrics';
import type { ClaimedEvent, InboxClaims } from '../inbox/inbox-claims';
import type { InboxIntake } from '../inbox/inbox-intake';
import type { WebhookProcessor } from './webhook-processor';

/** `config.billing.webhookQueue`: see `.env.example` (WEBHOOK_WORKERS, WEBHOOK_POLL_INTERVAL_MS, WEBHOOK_LEASE_MS). */
export interface WebhookQueueSettings {
  workers: number;
  pollIntervalMs: number;
  leaseMs: number;
}

/** What a delivery became: stored now (`queued`), or already in the inbox (`duplicate`: nothing changed). */
export type DeliveryOutcome = 'queued' | 'duplicate';

/**
 * The webhook queue of one instance (ADR 0020). A delivery is stored in the inbox (one statement, committed, shared
 * with the deliveries that arrived meanwhile) and answered; a pool of `workers` claims stored events (`InboxClaims`: first arrived first, one event of a key
 * at a time, under a lease) and processes them (`WebhookProcessor.processClaimed`: exactly once, its effects and
 * its inbox status in one transaction). Storing an event kicks this instance's pool at once, so the instance that
 * got it starts on it without waiting; a poll every `pollIntervalMs` takes what no kick announced (events stored
 * by another instance and left, a dead instance's claims once their lease ran out, failed events due a retry).
 */
export class WebhookQueue {
  private readonly running = new Set<Promise<unknown>>();
  private claiming: Promise<void> | null = null;
  private claimAgain = false;
  private started = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly intake: InboxIntake,
    private readonly claims: InboxClaims,
    private readonly processor: WebhookProcessor,
    private readonly settings: WebhookQueueSettings,
    private readonly logger: Logger,
    private readonly metrics: WebhookMetrics | null = null,
  ) {}

  /**
   * The endpoint's step: the event (and the text of the body it was verified from) durable in the inbox, then the pool told.
   * Concurrent deliveries share one statement (`InboxIntake`: group commit), each answered once it committed.
   */
  async accept(event: Stripe.Event, body?: string): Promise<DeliveryOutcome> {
    let queued: boolean;
    try {
      queued = await this.intake.accept({ event, body });
    } catch (error) {
      this.metrics?.delivered('failed');
      throw error;
    }
    if (queued) this.kick();
    const outcome = queued ? 'queued' : 'duplicate';
    this.metrics?.delivered(outcome);
    return outcome;
  }

  /** Events being processed by this instance now. */
  get busyWorkers(): number {
    return this.running.size;
  }

  /** Starts the pool; an instance with no workers (`WEBHOOK_WORKERS=0`) only stores, and leaves the rest to others. */
  start(): void {
    if (this.started || this.settings.workers < 1) return;
    this.started = true;
    this.poll();
  }

  /** Graceful shutdown: claims nothing more, and waits for the events in flight to commit (or fail). */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.claiming;
    await Promise.all(this.running);
  }

  /**
   * Processes what is claimable until nothing is, and waits for it: for tests ("the inbox is drained") and
   * scripts. An event whose key is held by another instance's live claim is left to that instance.
   */
  async drain(): Promise<void> {
    if (this.settings.workers < 1) return;
    for (;;) {
      while (this.claiming || this.running.size > 0) {
        await this.claiming;
        await Promise.all(this.running);
      }
      const claimed = await this.claims.claim(this.settings.workers, this.settings.leaseMs);
      if (claimed.length === 0) return;
      for (const event of claimed) this.run(event);
    }
  }

  /** Claims for the free workers now, or once the claim in progress is done. Does nothing until started. */
  kick(): void {
    if (!this.started) return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    this.claiming = this.claimForFreeWorkers().finally(() => {
      this.claiming = null;
    });
  }

  private async claimForFreeWorkers(): Promise<void> {
    do {
      this.claimAgain = false;
      const free = this.settings.workers - this.running.size;
      // A worker that finishes kicks again.
      if (free <= 0 || !this.started) return;
      let claimed: ClaimedEvent[];
      try {
        claimed = await this.claims.claim(free, this.settings.leaseMs);
      } catch (error) {
        // The database may be down: the poll tries again, and the events wait in the inbox meanwhile.
        this.logger.warn({ err: error }, 'could not claim webhook events');
        return;
      }
      for (const event of claimed) this.run(event);
    } while (this.claimAgain);
  }

  private run(claimed: ClaimedEvent): void {
    const work = this.processor
      .processClaimed(claimed)
      .catch((error: unknown) =>
        this.logger.error({ err: error, eventId: claimed.stripeEventId }, 'webhook worker failed'),
      )
      .finally(() => {
        this.running.delete(work);
        // The next event of the same key may be claimable now.
        this.kick();
      });
    this.running.add(work);
  }

  private poll(): void {
    this.kick();
    this.timer = setTimeout(() => {
      if (this.started) this.poll();
    }, this.settings.pollIntervalMs);
    // The poll never keeps the process alive on its own.
    this.timer.unref();
  }
}
