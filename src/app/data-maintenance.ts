import type { Config } from '../config';
import type { Orm } from '../database/database';
import type { Logger } from '../logging/logger';
import type { MaintenanceMetrics } from '../observability/metrics';
import { CreditHoldRetention } from '../services/credits/credit-hold-retention';
import { NotificationRetention } from '../services/notifications/notification-retention';
import type { Clock } from '../services/time/clock';
import { UsageRecordRetention } from '../services/usage/usage-record-retention';
import { InboxRetention } from '../webhooks/inbox/inbox-retention';
import { DataMaintenance } from '../webhooks/reconciler/data-maintenance';
import { ReconcileLock } from '../webhooks/reconciler/reconcile-lock';

/** The data maintenance job and its parts, from the retention settings (ADR 0021). */
export function buildDataMaintenance(
  config: Config,
  orm: Orm,
  clock: Clock,
  metrics: MaintenanceMetrics | null,
  logger: Logger,
): DataMaintenance {
  const { retention } = config;
  return new DataMaintenance(
    {
      usageRecords: new UsageRecordRetention(
        orm,
        {
          keepDays: retention.usageRecordDays,
          aheadDays: retention.partitionsAheadDays,
          idempotencyWindowHours: retention.idempotencyWindowHours,
        },
        logger,
      ),
      // Finished holds for as long as usage records (ADR 0021's amendment): nothing reads them longer.
      creditHolds: new CreditHoldRetention(orm, retention.usageRecordDays),
      inbox: new InboxRetention(orm, {
        payloadDays: retention.webhookPayloadDays,
        rowDays: retention.webhookEventDays,
      }),
      notifications: new NotificationRetention(orm, retention.notificationDays),
    },
    new ReconcileLock(config.database.url),
    retention.intervalMs,
    clock,
    metrics,
    logger,
  );
}
