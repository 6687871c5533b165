import { Migration } from '@mikro-orm/migrations';

/**
 * Finished credit holds are deleted past `USAGE_RECORD_RETENTION_DAYS` by the maintenance job (issue 14, ADR
 * 0021's amendment of 2026-12-07): one hold per model call paid in credits made `credit_hold` grow as fast as
 * `usage_record`, and nothing ever deleted it. The job reads the rows to delete by their creation time: a BRIN
 * index, as for `usage_reservation` (rows are written in time order; an insert on the model-call hot path descends
 * no B-tree for it). `if not exists`: a deployment with a large table builds it by hand beforehand, concurrently,
 * under this name.
 */
export class Migration20261208176000_credit_hold_retention extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create index if not exists "credit_hold_created_at_index" on "credit_hold" using brin ("created_at");`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "credit_hold_created_at_index";`);
  }
}
