/**
 * `npm run db:maintain`: one run of the data maintenance job (ADR 0021), as the service runs it every
 * DATA_MAINTENANCE_INTERVAL_MS: usage_record partitions made ahead and dropped past USAGE_RECORD_RETENTION_DAYS,
 * idempotency keys past their window, webhook payloads and rows, sent mails. Takes the reconciler's lock like the
 * service (exit code 2 if another instance holds it: run it again later). In production, after `npm run build`:
 * `node dist/scripts/db-maintain.js`.
 */
import 'reflect-metadata';
import { buildCoreServices } from '../src/app/core-services';
import { buildDataMaintenance } from '../src/app/data-maintenance';
import { ConfigError, loadProcessConfig } from '../src/config';
import { openDatabase } from '../src/database/database';
import { createLogger } from '../src/logging/pino-logger';
import { BillingMetrics } from '../src/observability/metrics';
import { InMemoryPubSub } from '../src/pubsub/in-memory-pubsub';
import { METRIC_KEYS } from '../src/services/plans/plan.types';
import { isFollowing } from '../src/services/time/clock';

async function main(): Promise<void> {
  const config = loadProcessConfig();
  const logger = createLogger(config);
  const orm = await openDatabase({ url: config.database.url, poolMax: 2 });
  // Only billing's clock is used of the core services: nothing is published.
  const { clock } = buildCoreServices(config, new InMemoryPubSub(), logger);
  try {
    if (isFollowing(clock)) await clock.start();
    const metrics = new BillingMetrics({ usageMetricKeys: METRIC_KEYS });
    const maintenance = buildDataMaintenance(config, orm, clock, metrics.maintenance, logger);
    const summary = await maintenance.runScheduled();
    if (!summary) {
      console.log(
        'db:maintain: another instance holds the lock (a reconciliation or maintenance run): try again',
      );
      process.exitCode = 2;
      return;
    }
    const { usageRecords } = summary;
    console.log(
      `db:maintain: usage_record partitions created ${usageRecords.created.length} ` +
        `(${usageRecords.created.join(', ') || 'none'}), dropped ${usageRecords.dropped.length} ` +
        `(${usageRecords.dropped.join(', ') || 'none'}); default-partition rows past retention deleted ` +
        `${usageRecords.defaultRowsDeleted}; idempotency keys pruned ${usageRecords.keysPruned}; finished ` +
        `reservations deleted ${usageRecords.reservationsPruned}; finished credit holds deleted ` +
        `${summary.creditHoldsPruned}; webhook payloads ` +
        `pruned ${summary.webhookPayloadsPruned}, events deleted ${summary.webhookEventsDeleted}; sent mails ` +
        `deleted ${summary.notificationsDeleted}`,
    );
  } finally {
    if (isFollowing(clock)) clock.stop();
    await orm.close();
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else console.error('db:maintain failed:', error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
