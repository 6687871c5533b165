import type { Orm } from '../../database/database';
import type { Logger } from '../../logging/logger';
import type { Notifier } from '../notifications/notifier';
import type { Clock } from '../time/clock';
import type { FeatureGate } from './feature-gate';
import type { UsageCopies } from './usage-copies';
import type { UsagePublisher } from './usage-publisher';

/** What the meter reports to monitoring (the metrics registry fits). */
export interface UsageMetricsSink {
  recorded(metric: string, count: number): void;
  rejected(metric: string, reason: string): void;
}

/**
 * What both ways of writing usage (`UsageMeter` records it, `UsageReservations` holds and commits it) work
 * with: the ledger's database, the gate that knows the allowances, the Redis copies, the live updates, the
 * threshold mails. Built once by `UsageServices`.
 */
export interface UsageWriting {
  orm: Orm;
  gate: FeatureGate;
  copies: UsageCopies;
  publisher: UsagePublisher;
  notifier: Notifier;
  logger: Logger;
  clock: Clock;
  metrics: UsageMetricsSink | null;
}
