import { Migration } from '@mikro-orm/migrations';

/**
 * Finished reservations are deleted past `USAGE_RECORD_RETENTION_DAYS` by the maintenance job (issue 14, ADR
 * 0021's amendment of 2026-12-07): one reservation per model call made `usage_reservation` grow as fast as
 * `usage_record`, and nothing ever deleted it. The job reads the rows to delete by their creation time: a BRIN
 * index, as for `usage_record_key` (rows are written in time order; an insert descends no B-tree for it).
 * `if not exists`: a deployment with a large table builds it by hand beforehand, concurrently, under this name.
 */
export class Migration20261208175000_usage_reservation_retention extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create index if not exists "usage_reservation_created_at_index" on "usage_reservation" using brin ("created_at");`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "usage_reservation_created_at_index";`);
  }
}
