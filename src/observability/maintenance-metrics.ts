import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What the data maintenance job removes, one label value each (`billing_maintenance_rows_pruned_total`). */
export const PRUNED_KINDS = [
  'usage_record_key',
  'usage_record_default',
  'usage_reservation',
  'credit_hold',
  'webhook_payload',
  'webhook_event',
  'notification',
] as const;
export type PrunedKind = (typeof PRUNED_KINDS)[number];

/** How one scheduled run of the data maintenance job ended. */
export type MaintenanceOutcome = 'succeeded' | 'failed' | 'skipped';

/** What the data maintenance job reports (ADR 0021). */
export interface MaintenanceMetrics {
  /** One scheduled run: `skipped` when another instance held the lock. */
  run(outcome: MaintenanceOutcome, seconds: number, finishedAt: Date): void;
  partitions(action: 'created' | 'dropped', count: number): void;
  pruned(kind: PrunedKind, count: number): void;
}

const DURATION_BUCKETS_SECONDS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900];

export function maintenanceMetrics(registers: Registry[]): MaintenanceMetrics {
  const runs = new Counter({
    name: 'billing_maintenance_runs_total',
    help: 'Scheduled runs of the data maintenance job on this instance: succeeded, failed, or skipped (another instance held the lock)',
    labelNames: ['outcome'] as const,
    registers,
  });
  for (const outcome of ['succeeded', 'failed', 'skipped'] as const) runs.inc({ outcome }, 0);
  const duration = new Histogram({
    name: 'billing_maintenance_duration_seconds',
    help: 'Duration of a data maintenance run that this instance did (not skipped ones)',
    buckets: DURATION_BUCKETS_SECONDS,
    registers,
  });
  const lastSuccess = new Gauge({
    name: 'billing_maintenance_last_success_timestamp_seconds',
    help: 'When this instance last finished a data maintenance run without error (Unix seconds; 0: not yet)',
    registers,
  });
  const partitions = new Counter({
    name: 'billing_maintenance_partitions_total',
    help: 'usage_record partitions created ahead or dropped past the retention',
    labelNames: ['action'] as const,
    registers,
  });
  for (const action of ['created', 'dropped'] as const) partitions.inc({ action }, 0);
  const pruned = new Counter({
    name: 'billing_maintenance_rows_pruned_total',
    help: 'Rows removed past their retention (webhook_payload: payloads dropped, rows kept), by kind',
    labelNames: ['kind'] as const,
    registers,
  });
  for (const kind of PRUNED_KINDS) pruned.inc({ kind }, 0);
  return {
    run: (outcome, seconds, finishedAt) => {
      runs.inc({ outcome });
      if (outcome === 'skipped') return;
      duration.observe(seconds);
      if (outcome === 'succeeded') lastSuccess.set(finishedAt.getTime() / 1000);
    },
    partitions: (action, count) => {
      if (count > 0) partitions.inc({ action }, count);
    },
    pruned: (kind, count) => {
      if (count > 0) pruned.inc({ kind }, count);
    },
  };
}
