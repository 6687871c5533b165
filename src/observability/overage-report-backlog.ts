import type { Orm } from '../database/database';
import type { OverageReportBacklog } from './metrics';

/** When a pending report counts as stuck (the reporter's `STUCK_REPORT`, given by the composition root). */
export interface StuckReportRule {
  /** Pending for longer than this. */
  pendingForMs: number;
  /** Or failed at least this many times. */
  failures: number;
}

/**
 * The overage reports written down and not yet confirmed by Stripe, for the metrics: how many, how many of them
 * are stuck (pending for long, or failed many times: `stuck`), and the age of the oldest. One query on the
 * `overage_pending_since` index (set exactly while a report is pending); read at scrape time, so it shows what
 * the database holds, whichever instance's reporter wrote the reports.
 */
export async function readOverageReportBacklog(
  orm: Orm,
  stuck: StuckReportRule,
): Promise<OverageReportBacklog> {
  const rows: Array<{ pending: number | string; stuck: number | string; oldest: number | string | null }> =
    await orm.em
      .fork()
      .getConnection()
      .execute(
        `select count(*)::int as pending,
                count(*) filter (where overage_pending_since < now() - make_interval(secs => ?)
                                    or overage_attempts >= ?)::int as stuck,
                extract(epoch from now() - min(overage_pending_since))::float8 as oldest
           from usage_counter
          where overage_pending_since is not null`,
        [stuck.pendingForMs / 1000, stuck.failures],
      );
  const row = rows[0];
  return {
    pending: Number(row?.pending ?? 0),
    stuck: Number(row?.stuck ?? 0),
    oldestAgeSeconds: Math.max(0, Number(row?.oldest ?? 0)),
  };
}
