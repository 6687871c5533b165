import type { Config } from '../../config';
import type { Orm } from '../../database/database';
import type { Logger } from '../../logging/logger';
import { type InboxEntry, InboxReads } from '../inbox/inbox-reads';
import { WebhookInbox } from '../inbox/webhook-inbox';
import type { WebhookProcessor } from '../pipeline/webhook-processor';
import { AccountResync, type ReconcilerServices, type ResyncSummary } from './account-resync';
import { CatchUp, type CatchUpLimits, type CatchUpSummary } from './catch-up';
import { EventReplay } from './event-replay';
import { EventsCursorStore } from './events-cursor';
import { GracePeriodSweep } from './grace-period-sweep';
import { ReconcileLock } from './reconcile-lock';
import { StripeEventPages } from './stripe-event-pages';

export { EVENTS_CURSOR, type EventsCursor } from './events-cursor';
export type { CatchUpFailure, CatchUpSummary } from './catch-up';
export type { ReconcilerServices, ResyncSummary } from './account-resync';

/** How much one run does; the defaults are for production, tests make them small. */
export type ReconcilerLimits = CatchUpLimits;

const DEFAULT_LIMITS: ReconcilerLimits = {
  eventPageSize: 100,
  maxEventPages: 1000,
  retryBatchSize: 100,
  maxSeekPages: 10_000,
};

export interface ReconcilerSettings {
  databaseUrl: string;
  /** `config.billing.reconcileIntervalMs`; 0 turns the periodic job off. */
  intervalMs: number;
  limits?: Partial<ReconcilerLimits>;
}

/**
 * Makes sure nothing Stripe told us is lost even when its webhooks were: Stripe retries a failed delivery for
 * three days, but a service down longer (or an endpoint misconfigured) would miss events for good. Its jobs,
 * each in its own file:
 *
 * - `catchUp()` (`CatchUp`) walks Stripe's events forward from the last one it got past through the same
 *   pipeline as the webhook endpoint, then retries inbox rows whose next attempt is due;
 * - `sweepGracePeriods()` (`GracePeriodSweep`) moves past-due accounts whose grace period is over to free;
 * - `resyncAccount()` (`AccountResync`) repairs one account from Stripe on demand;
 * - `replay()` (`EventReplay`) processes one stored event again, for an admin;
 * - `start()` runs catch-up and sweep every `intervalMs`, on one instance at a time (`ReconcileLock`).
 */
export class Reconciler {
  private readonly lock: ReconcileLock;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private readonly catchUpJob: CatchUp;
  private readonly sweep: GracePeriodSweep;
  private readonly resync: AccountResync;
  private readonly replayJob: EventReplay;

  constructor(
    orm: Orm,
    processor: WebhookProcessor,
    private readonly services: ReconcilerServices,
    private readonly settings: ReconcilerSettings,
    private readonly logger: Logger,
  ) {
    this.lock = new ReconcileLock(settings.databaseUrl);
    const limits = { ...DEFAULT_LIMITS, ...settings.limits };
    const isStopping = () => this.stopping;
    const inbox = new WebhookInbox(orm, logger);
    const inboxReads = new InboxReads(orm);
    const pages = new StripeEventPages(services.stripe.stripe, limits, logger, isStopping);
    const parts = { processor, inbox, inboxReads, cursor: new EventsCursorStore(orm), pages };
    this.catchUpJob = new CatchUp(parts, limits, logger, isStopping);
    this.sweep = new GracePeriodSweep(orm, services.provisioner, services.events, logger, isStopping);
    this.resync = new AccountResync(orm, services, logger);
    this.replayJob = new EventReplay(processor, inbox, inboxReads, logger);
  }

  /**
   * Starts the periodic job (nothing when the interval is 0). The first run comes one interval after start,
   * not at once: a restart storm of many instances does not all list Stripe's events in the same second, and
   * whatever happened while the service was down is still there to list then.
   */
  start(): void {
    if (this.settings.intervalMs <= 0 || this.timer || this.stopping) return;
    this.schedule();
  }

  /** Stops the job and waits for a run in progress, which stops after the event it is processing. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One run of the periodic job, if no other instance is running it: catch-up, then the grace sweep. */
  async runScheduled(): Promise<{ catchUp: CatchUpSummary; sweptAccounts: string[] } | null> {
    const outcome = await this.lock.withLock(async () => ({
      catchUp: await this.catchUp(),
      sweptAccounts: await this.sweepGracePeriods(),
    }));
    if (!outcome) {
      this.logger.debug({}, 'reconciliation skipped: another instance is running it');
      return null;
    }
    const { catchUp, sweptAccounts } = outcome.result;
    const level = catchUp.failed > 0 ? 'warn' : 'info';
    this.logger[level]({ reconcile: { ...catchUp, sweptAccounts } }, 'reconciled with Stripe');
    return outcome.result;
  }

  catchUp(): Promise<CatchUpSummary> {
    return this.catchUpJob.run();
  }

  replay(stripeEventId: string): Promise<InboxEntry> {
    return this.replayJob.run(stripeEventId);
  }

  resyncAccount(accountId: string): Promise<ResyncSummary> {
    return this.resync.run(accountId);
  }

  sweepGracePeriods(now = this.services.clock.now()): Promise<string[]> {
    return this.sweep.run(now);
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.running = this.runScheduled()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.error({ err: error }, 'reconciliation run failed'))
        .finally(() => {
          this.running = null;
          if (!this.stopping) this.schedule();
        });
    }, this.settings.intervalMs);
    // The job never keeps the process alive on its own.
    this.timer.unref();
  }
}

/** The reconciler's settings from the service's configuration. */
export function reconcilerSettings(config: Config): ReconcilerSettings {
  return { databaseUrl: config.database.url, intervalMs: config.billing.reconcileIntervalMs };
}
