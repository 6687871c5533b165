import { Migration } from '@mikro-orm/migrations';

/**
 * The inbox's retry index holds only the rows still in line (issue 14, ADR 0031's amendment of 2026-12-07): its
 * one reader (`InboxReads.dueForRetry`) asks for `received`, `processing` and `failed` rows alone, and an index of
 * every row took a new entry each time an event was marked processed (an update of the inbox row is never HOT:
 * its status is in the queue's indexes), for a row it never looks at again. Partial, like the queue's line
 * indexes: the processed mark writes one index entry fewer, and the index stays as small as the line.
 */
export class Migration20261208142100_webhook_waiting_retry_index extends Migration {
  override async up(): Promise<void> {
    this.addSql(`drop index "webhook_event_next_attempt_at_index";`);
    this.addSql(
      `create index "webhook_event_next_attempt_at_index" on "webhook_event" ("next_attempt_at") where "status" in ('received', 'processing', 'failed');`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "webhook_event_next_attempt_at_index";`);
    this.addSql(`create index "webhook_event_next_attempt_at_index" on "webhook_event" ("next_attempt_at");`);
  }
}
