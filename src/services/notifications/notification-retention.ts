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
    let deleted = 0;
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const rows = await this.orm.em.fork().execute<Array<{ count: string }>>(
        `with gone as (
           delete from notification where id = any(array(
             select id from notification where status = 'sent' and sent_at < ? limit ${BATCH}))
           returning 1)
         select count(*) from gone`,
        [before],
      );
      const count = Number(rows[0]?.count ?? 0);
      deleted += count;
      if (count < BATCH) break;
    }
    return deleted;
  }
}
