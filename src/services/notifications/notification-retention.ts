import { deleteInBatches } from '../../database/batched-delete';
import type { Orm } from '../../database/database';

const BATCH = 10_000;
const MAX_BATCHES = 100;

/**
 * Deletes sent mails older than the retention (`NOTIFICATION_RETENTION_DAYS`, at least 32 days): their dedupe
 * keys have stopped every second mail they could (an event is redelivered for 3 days, a usage threshold is
 * once per period of at most 31). Pending and failed mails are never deleted. `sent_at` is the database's time.
 */
export class NotificationRetention {
  constructor(
    private readonly orm: Orm,
    private readonly keepDays: number,
  ) {}

  /** Answers how many mails were deleted. */
  async run(now: Date): Promise<number> {
    const before = new Date(now.getTime() - this.keepDays * 24 * 3600 * 1000);
    return deleteInBatches(
      this.orm,
      { table: 'notification', key: 'id', where: "status = 'sent' and sent_at < ?", params: [before] },
      { batch: BATCH, maxBatches: MAX_BATCHES },
    );
  }
}
