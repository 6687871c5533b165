import type { Orm } from '../../database/database';
import type { Logger } from '../../logging/logger';
import type { UsageMetrics } from '../../observability/metrics';
import type { Notifier } from '../notifications/notifier';
import type { Clock } from '../time/clock';
import type { FeatureGate } from './feature-gate';
import type { UsageCopies } from './usage-copies';
import type { UsagePublisher } from './usage-publisher';

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
  /** Counted and refused usage events, for monitoring. */
  metrics: UsageMetrics | null;
}
