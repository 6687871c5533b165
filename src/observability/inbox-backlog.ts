import type { Orm } from '../database/database';
import type { InboxBacklog } from './metrics';

/**
 * The webhook inbox's backlog, for the metrics: events not processed yet (`received`, `processing`) and events
 * whose last attempt failed, with the age of the oldest of each. One grouped query on the (status, received_at)
 * index; read at scrape time, so it shows what the database holds, whichever instance stored the events.
 */
export async function readInboxBacklog(orm: Orm): Promise<InboxBacklog[]> {
  const rows: Array<{ state: 'pending' | 'failed'; count: number | string; oldest: number | string | null }> =
    await orm.em
      .fork()
      .getConnection()
      .execute(
        `select case when status = 'failed' then 'failed' else 'pending' end as state,
                count(*)::int as count,
                extract(epoch from now() - min(received_at))::float8 as oldest
           from webhook_event
          where status in ('received', 'processing', 'failed')
          group by 1`,
      );
  return rows.map((row) => ({
    state: row.state,
    count: Number(row.count),
    oldestAgeSeconds: Math.max(0, Number(row.oldest ?? 0)),
  }));
}
