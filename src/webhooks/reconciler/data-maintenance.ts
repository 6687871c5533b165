import type { Logger } from '../../logging/logger';
import type { CreditHoldRetention } from '../../services/credits/credit-hold-retention';
import type { MaintenanceMetrics } from '../../observability/metrics';
import type { NotificationRetention } from '../../services/notifications/notification-retention';
import type { Clock } from '../../services/time/clock';
import { PassSchedule } from '../../services/time/pass-schedule';
import type { UsageRecordRetention, UsageRecordUpkeep } from '../../services/usage/usage-record-retention';
import type { InboxRetention } from '../inbox/inbox-retention';
import type { ReconcileLock } from './reconcile-lock';

/** What one maintenance run did. */
export interface MaintenanceSummary {
  usageRecords: UsageRecordUpkeep;
  /** Settled, released and expired credit holds past the retention deleted (`credit_hold`). */
  creditHoldsPruned: number;
  webhookPayloadsPruned: number;
  webhookEventsDeleted: number;
  notificationsDeleted: number;
}

/** The parts a run goes through, each owning its table's SQL. */
export interface MaintenanceParts {
  usageRecords: UsageRecordRetention;
  creditHolds: CreditHoldRetention;
  inbox: InboxRetention;
  notifications: NotificationRetention;
}

/**
 * Keeps the tables that grow with traffic bounded (ADR 0021): `usage_record`'s partitions made ahead and
 * dropped past the retention, idempotency keys past their window, finished reservations and credit holds,
 * webhook payloads and rows, sent mails. Every
 * `intervalMs`, on one instance at a time: it takes the reconciler's advisory lock (`ReconcileLock`), so it
 * never runs beside a reconciliation either, and an instance that finds the lock taken skips its turn. The
 * first run comes one interval after start, as the reconciler's (partitions exist `aheadDays` ahead already).
 * `npm run db:maintain` runs it once.
 */
export class DataMaintenance {
  /** Every `intervalMs`, the next run scheduled once the last has finished (the overage reporter's schedule). */
  private readonly schedule = new PassSchedule(
    async () => this.intervalMs,
    async () => {
      await this.runScheduled().catch((error: unknown) =>
        this.logger.error({ err: error }, 'data maintenance run failed'),
      );
    },
  );

  constructor(
    private readonly parts: MaintenanceParts,
    private readonly lock: ReconcileLock,
    private readonly intervalMs: number,
    private readonly clock: Clock,
    private readonly metrics: MaintenanceMetrics | null,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.intervalMs > 0) this.schedule.start();
  }

  async stop(): Promise<void> {
    await this.schedule.stop();
  }

  /** One run if no other instance holds the lock (null then), counted and logged. */
  async runScheduled(): Promise<MaintenanceSummary | null> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    let outcome: { result: MaintenanceSummary } | null;
    try {
      outcome = await this.lock.withLock(() => this.run());
    } catch (error) {
      this.metrics?.run('failed', seconds(), new Date());
      throw error;
    }
    if (!outcome) {
      this.metrics?.run('skipped', 0, new Date());
      this.logger.debug({}, 'data maintenance skipped: another instance holds the lock');
      return null;
    }
    this.metrics?.run('succeeded', seconds(), new Date());
    this.logger.info({ maintenance: outcome.result, seconds: seconds() }, 'data maintenance done');
    return outcome.result;
  }

  /**
   * The work, without the lock (the caller holds it). Usage records and credit holds follow billing's clock, which
   * stamped them; the inbox and the outbox the wall clock, which stamped theirs.
   */
  async run(): Promise<MaintenanceSummary> {
    const usageRecords = await this.parts.usageRecords.run(this.clock.now());
    this.metrics?.partitions('created', usageRecords.created.length);
    this.metrics?.partitions('dropped', usageRecords.dropped.length);
    this.metrics?.pruned('usage_record_key', usageRecords.keysPruned);
    this.metrics?.pruned('usage_record_default', usageRecords.defaultRowsDeleted);
    this.metrics?.pruned('usage_reservation', usageRecords.reservationsPruned);
    const creditHoldsPruned = await this.parts.creditHolds.run(this.clock.now());
    this.metrics?.pruned('credit_hold', creditHoldsPruned);
    const wallNow = new Date();
    const inbox = await this.parts.inbox.run(wallNow);
    this.metrics?.pruned('webhook_payload', inbox.payloadsPruned);
    this.metrics?.pruned('webhook_event', inbox.rowsDeleted);
    const notificationsDeleted = await this.parts.notifications.run(wallNow);
    this.metrics?.pruned('notification', notificationsDeleted);
    return {
      usageRecords,
      creditHoldsPruned,
      webhookPayloadsPruned: inbox.payloadsPruned,
      webhookEventsDeleted: inbox.rowsDeleted,
      notificationsDeleted,
    };
  }
}
