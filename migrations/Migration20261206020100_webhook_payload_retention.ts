import { Migration } from '@mikro-orm/migrations';

/**
 * The inbox's payload retention (issue 14, ADR 0021): a processed or ignored event's payload is dropped after
 * `WEBHOOK_PAYLOAD_RETENTION_DAYS`, its row kept for dedupe until `WEBHOOK_EVENT_RETENTION_DAYS`. The partial
 * index finds the payloads still kept, oldest first, without walking the rows already pruned.
 */
export class Migration20261206020100_webhook_payload_retention extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "webhook_event" alter column "payload" drop not null;`);
    this.addSql(
      `create index "webhook_event_payload_kept_index" on "webhook_event" ("received_at") where "payload" is not null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "webhook_event_payload_kept_index";`);
    // A pruned row cannot get its payload back: an empty object marks it (an unreadable payload, never retried).
    this.addSql(`update "webhook_event" set "payload" = '{}' where "payload" is null;`);
    this.addSql(`alter table "webhook_event" alter column "payload" set not null;`);
  }
}
