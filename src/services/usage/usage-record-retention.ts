import { deleteInBatches } from '../../database/batched-delete';
import type { Orm } from '../../database/database';
import type { Logger } from '../../logging/logger';
import { DAY_MS, startOfUtcDay } from '../time/utc-days';

/** The daily partitions' names (`usage_record_ensure_partition`, migration 20261206020000): the day in UTC. */
const PARTITION_NAME = /^usage_record_(\d{4})(\d{2})(\d{2})$/;
/** A partition is dropped only if this lock on `usage_record` comes quickly; else on the next run. */
const DROP_LOCK_TIMEOUT = '5s';
/** Keys (and reservations) deleted per statement, and statements per run: a run stays short whatever piled up. */
const KEY_LIMITS = { batch: 10_000, maxBatches: 200 };

/** What one pass over `usage_record` did. */
export interface UsageRecordUpkeep {
  created: string[];
  dropped: string[];
  /** Rows past the retention deleted from the default partition (only there if no partition covered them). */
  defaultRowsDeleted: number;
  keysPruned: number;
  /** Committed, released or expired reservations past the retention deleted (`usage_reservation`). */
  reservationsPruned: number;
}

export interface UsageRecordRetentionSettings {
  keepDays: number;
  aheadDays: number;
  idempotencyWindowHours: number;
}

/**
 * Keeps `usage_record` bounded (ADR 0021): daily partitions made ahead of need, so an insert never waits for
 * DDL nor lands in the default partition; partitions whose every row is older than the retention dropped
 * whole (the totals stay in `usage_counter`); idempotency keys past their window deleted. Times are billing's
 * clock, which wrote `created_at`. Run by one instance at a time (`DataMaintenance`).
 */
export class UsageRecordRetention {
  constructor(
    private readonly orm: Orm,
    private readonly settings: UsageRecordRetentionSettings,
    private readonly logger: Logger,
  ) {}

  async run(now: Date): Promise<UsageRecordUpkeep> {
    const created = await this.ensurePartitions(now);
    const { dropped, defaultRowsDeleted } = await this.dropPartitions(now);
    const keysPruned = await this.pruneKeys(now);
    const reservationsPruned = await this.pruneReservations(now);
    return { created, dropped, defaultRowsDeleted, keysPruned, reservationsPruned };
  }

  /**
   * Makes today's partition and the `aheadDays` after it, and one for each day whose rows wait in the default
   * partition (written when no partition covered them): they move into it. Answers the partitions made.
   */
  async ensurePartitions(now: Date): Promise<string[]> {
    const today = startOfUtcDay(now);
    const days = new Set<number>();
    for (let ahead = 0; ahead <= this.settings.aheadDays; ahead++) days.add(today + ahead * DAY_MS);
    for (const day of await this.daysInDefault(this.cutoff(now))) days.add(day);
    const created: string[] = [];
    for (const day of [...days].sort((a, b) => a - b)) {
      const rows = await this.orm.em
        .fork()
        .execute<Array<{ created: boolean }>>('select usage_record_ensure_partition(?::date) as created', [
          new Date(day).toISOString().slice(0, 10),
        ]);
      if (rows[0]?.created) created.push(partitionNameOf(day));
    }
    return created;
  }

  /**
   * Drops each partition whose whole day ended `keepDays` or more before today, and deletes rows as old from
   * the default partition. A partition whose drop cannot take its lock quickly is left for the next run.
   */
  async dropPartitions(now: Date): Promise<{ dropped: string[]; defaultRowsDeleted: number }> {
    const cutoff = this.cutoff(now);
    const dropped: string[] = [];
    for (const { name, day } of await this.partitions()) {
      if (day + DAY_MS > cutoff) continue;
      try {
        await this.orm.em.fork().transactional(async (em) => {
          await em.execute(`set local lock_timeout = '${DROP_LOCK_TIMEOUT}'`);
          await em.execute(`drop table if exists "${name}"`);
        });
        dropped.push(name);
      } catch (error) {
        if ((error as { code?: unknown }).code !== '55P03') throw error;
        this.logger.warn({ partition: name }, 'usage_record partition busy: dropped on a later run');
      }
    }
    const deleted = await this.orm.em
      .fork()
      .execute<Array<{ count: string }>>(
        'with gone as (delete from usage_record_default where created_at < ? returning 1) select count(*) from gone',
        [new Date(cutoff)],
      );
    return { dropped, defaultRowsDeleted: Number(deleted[0]?.count ?? 0) };
  }

  /** Deletes idempotency keys older than the window, in batches; answers how many. */
  async pruneKeys(now: Date): Promise<number> {
    const before = new Date(now.getTime() - this.settings.idempotencyWindowHours * 3600 * 1000);
    return deleteInBatches(
      this.orm,
      { table: 'usage_record_key', key: 'ctid', where: 'created_at < ?', params: [before] },
      KEY_LIMITS,
    );
  }

  /**
   * Deletes reservations (one per model call: a table as fast-growing as `usage_record`) made before the oldest
   * day kept, once they are over (committed, released or expired): their uses are in `usage_counter` and
   * `usage_record`, and a retry of their key comes minutes later, not weeks. A held one stays, whatever its age,
   * until the ledger expires it. In batches, read by the BRIN index on `created_at` (migration 20261208175000).
   */
  async pruneReservations(now: Date): Promise<number> {
    const before = new Date(this.cutoff(now));
    const finished = "created_at < ? and status in ('committed', 'released', 'expired')";
    return deleteInBatches(
      this.orm,
      { table: 'usage_reservation', key: 'ctid', where: finished, params: [before] },
      KEY_LIMITS,
    );
  }

  /** The daily partitions that exist, oldest first. */
  async partitions(): Promise<Array<{ name: string; day: number }>> {
    const rows = await this.orm.em.fork().execute<Array<{ name: string }>>(
      `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
        where i.inhparent = 'usage_record'::regclass order by c.relname`,
    );
    return rows.flatMap(({ name }) => {
      const match = PARTITION_NAME.exec(name);
      return match ? [{ name, day: Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) }] : [];
    });
  }

  /** Rows in the default partition: 0 unless the job stopped for longer than `aheadDays` (or a clock jumped). */
  async defaultPartitionRows(): Promise<number> {
    const rows = await this.orm.em
      .fork()
      .execute<Array<{ count: string }>>('select count(*) from usage_record_default');
    return Number(rows[0]?.count ?? 0);
  }

  /** The start of the oldest day kept: partitions wholly before it are dropped. */
  private cutoff(now: Date): number {
    return startOfUtcDay(now) - this.settings.keepDays * DAY_MS;
  }

  private async daysInDefault(cutoff: number): Promise<number[]> {
    const rows = await this.orm.em.fork().execute<Array<{ day: string }>>(
      `select distinct to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as day
         from usage_record_default where created_at >= ?`,
      [new Date(cutoff)],
    );
    return rows.map(({ day }) => Date.parse(`${day}T00:00:00Z`));
  }
}

function partitionNameOf(day: number): string {
  return `usage_record_${new Date(day).toISOString().slice(0, 10).replaceAll('-', '')}`;
}
