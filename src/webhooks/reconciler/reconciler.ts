import type { Config } from '../../config';
import type { Logger } from '../../logging/logger';
import type { Clock } from '../../services/time/clock';
import type { InboxEntry } from '../inbox/inbox-reads';
import type { AccountResync, ResyncSummary } from './account-resync';
import type { CatchUp, CatchUpLimits, CatchUpSummary } from './catch-up';
import type { EventReplay } from './event-replay';
import type { GracePeriodSweep } from './grace-period-sweep';
import type { ReconcileLock } from './reconcile-lock';

import type { CreditPurchaseCheck, CreditPurchaseCheckSummary } from './credit-purchase-check';
export { EVENTS_CURSOR, type EventsCursor } from './events-cursor';
export type { CatchUpFailure, CatchUpSummary } from './catch-up';
export type { ReconcilerServices, ResyncSummary } from './account-resync';

/** How much one run does; the defaults are for production, tests make them small. */
export type ReconcilerLimits = CatchUpLimits;

export const DEFAULT_LIMITS: ReconcilerLimits = {
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

/** The reconciler's jobs, each in its own file; built by the composition root (`src/app/webhook-pipeline.ts`). */
export interface ReconcilerJobs {
  catchUp: CatchUp;
  sweep: GracePeriodSweep;
  resync: AccountResync;
  replay: EventReplay;
  /** The ledger's credit purchases against Stripe's paid invoices. */
  creditPurchases: CreditPurchaseCheck;
}

/** Asked to stop: the jobs look at it between events, so a run stops after the event it is processing. */
export class StopSignal {
  private stopped = false;

  get requested(): boolean {
    return this.stopped;
  }

  request(): void {
    this.stopped = true;
  }
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
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly jobs: ReconcilerJobs,
    private readonly lock: ReconcileLock,
    private readonly stopSignal: StopSignal,
    private readonly intervalMs: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /**
   * Starts the periodic job (nothing when the interval is 0). The first run comes one interval after start,
   * not at once: a restart storm of many instances does not all list Stripe's events in the same second, and
   * whatever happened while the service was down is still there to list then.
   */
  start(): void {
    if (this.intervalMs <= 0 || this.timer || this.stopSignal.requested) return;
    this.schedule();
  }

  /** Stops the job and waits for a run in progress, which stops after the event it is processing. */
  async stop(): Promise<void> {
    this.stopSignal.request();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /**
   * One run of the periodic job, if no other instance is running it: catch-up, then the grace sweep, then the
   * credit purchase check.
   */
  async runScheduled(): Promise<{
    catchUp: CatchUpSummary;
    sweptAccounts: string[];
    creditPurchases: CreditPurchaseCheckSummary;
  } | null> {
    const outcome = await this.lock.withLock(async () => ({
      catchUp: await this.catchUp(),
      sweptAccounts: await this.sweepGracePeriods(),
      creditPurchases: await this.checkCreditPurchases(),
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
    return this.jobs.catchUp.run();
  }

  replay(stripeEventId: string): Promise<InboxEntry> {
    return this.jobs.replay.run(stripeEventId);
  }

  resyncAccount(accountId: string): Promise<ResyncSummary> {
    return this.jobs.resync.run(accountId);
  }

  sweepGracePeriods(now = this.clock.now()): Promise<string[]> {
    return this.jobs.sweep.run(now);
  }

  checkCreditPurchases(now = this.clock.now()): Promise<CreditPurchaseCheckSummary> {
    return this.jobs.creditPurchases.run(now);
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.running = this.runScheduled()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.error({ err: error }, 'reconciliation run failed'))
        .finally(() => {
          this.running = null;
          if (!this.stopSignal.requested) this.schedule();
        });
    }, this.intervalMs);
    // The job never keeps the process alive on its own.
    this.timer.unref();
  }
}

/** The reconciler's settings from the service's configuration. */
export function reconcilerSettings(config: Config): ReconcilerSettings {
  return { databaseUrl: config.database.url, intervalMs: config.billing.reconcileIntervalMs };
}
