import { deleteInBatches } from '../../database/batched-delete';
import type { Orm } from '../../database/database';
import { DAY_MS, startOfUtcDay } from '../time/utc-days';

/** Holds deleted per statement by default, and statements per run: a run stays short whatever piled up. */
const BATCH = 10_000;
const MAX_BATCHES = 200;

/**
 * Keeps `credit_hold` bounded (issue 14, ADR 0021's amendment of 2026-12-07): one row per model call paid in
 * credits, as fast-growing as `usage_record`. Deletes the holds that are over (settled, released or expired) and
 * were made and last changed before the oldest day kept (`USAGE_RECORD_RETENTION_DAYS`, at least 32 days). What a
 * hold is needed for after it is over is short-lived: a repeated commit or release answers from it (a retry comes
 * within minutes of a call of at most an hour), a late commit of an expired one still burns (and moves
 * `updated_at`, so its own repeat is answered a whole retention after). What stays is elsewhere: the ledger's
 * entries keep what each call burned, billed and why (`source` `credit_hold` + the id, no foreign key), members'
 * months are in `credit_member_period`, and only live holds claim expiring lots. A held one stays whatever its
 * age, until a write or the sweep expires it. Times are billing's clock, which stamped the holds. In batches,
 * read by the BRIN index on `created_at` (migration 20261208176000). Run by one instance at a time
 * (`DataMaintenance`).
 */
export class CreditHoldRetention {
  constructor(
    private readonly orm: Orm,
    private readonly keepDays: number,
    private readonly batch = BATCH,
  ) {}

  /** Deletes the finished holds past the retention; answers how many. */
  async run(now: Date): Promise<number> {
    const before = new Date(startOfUtcDay(now) - this.keepDays * DAY_MS);
    // By `ctid`: a row a settle changed meanwhile is a new version with another ctid, left for the next run.
    const finished = "created_at < ? and updated_at < ? and state in ('settled', 'released', 'expired')";
    return deleteInBatches(
      this.orm,
      { table: 'credit_hold', key: 'ctid', where: finished, params: [before, before] },
      { batch: this.batch, maxBatches: MAX_BATCHES },
    );
  }
}
