import { Migration } from '@mikro-orm/migrations';

/**
 * The inbox's retry policy: failed rows wait `next_attempt_at` (back-off by attempt count) and become `dead`
 * after too many attempts or too long (src/webhooks/inbox-retry-policy.ts).
 */
export class Migration20261205032806_webhook_retry_policy extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter type "webhook_event_status" add value if not exists 'dead' after 'ignored';`);

    this.addSql(`alter table "webhook_event" add column "next_attempt_at" timestamptz null;`);
    this.addSql(`create index "webhook_event_next_attempt_at_index" on "webhook_event" ("next_attempt_at");`);
    // Rows waiting for a retry when this runs were retried by every run before: they are due now.
    this.addSql(`update "webhook_event" set "next_attempt_at" = now() where "status" in ('received', 'processing', 'failed');`);
  }

  override async down(): Promise<void> {
    // PostgreSQL cannot drop an enum value: `dead` stays in the type, unused; dead rows become failed again.
    this.addSql(`update "webhook_event" set "status" = 'failed' where "status" = 'dead';`);
    this.addSql(`drop index "webhook_event_next_attempt_at_index";`);
    this.addSql(`alter table "webhook_event" drop column "next_attempt_at";`);
  }

}
