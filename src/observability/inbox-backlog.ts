import type { Orm } from '../database/database';
import type { InboxBacklog } from './metrics';

/**
 * The webhook inbox's backlog, for the metrics: events not processed yet (`received`, `processing`), events
 * whose last attempt failed, and dead ones (given up on by the retry policy), with the age of the oldest of each.
 * One grouped query on the (status, received_at) index; read at scrape time, so it shows what the database
 * holds, whichever instance stored the events.
 */
export async function readInboxBacklog(orm: Orm): Promise<InboxBacklog[]> {
  const rows: Array<{
    state: InboxBacklog['state'];
    count: number | string;
    oldest: number | string | null;
  }> = await orm.em
    .fork()
    .getConnection()
    .execute(
      `select case when status in ('failed', 'dead') then status::text else 'pending' end as state,
                count(*)::int as count,
                extract(epoch from now() - min(received_at))::float8 as oldest
           from webhook_event
          where status in ('received', 'processing', 'failed', 'dead')
          group by 1`,
    );
  return rows.map((row) => ({
    state: row.state,
    count: Number(row.count),
    oldestAgeSeconds: Math.max(0, Number(row.oldest ?? 0)),
  }));
}
