import { Migration } from '@mikro-orm/migrations';

/**
 * The webhook queue (ADR 0020): each inbox row carries the key its events are ordered by (the Stripe customer,
 * else the object), so the workers that claim rows process one key's events one at a time and in order.
 */
export class Migration20261206031000_webhook_queue extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "webhook_event" add column "ordering_key" varchar(255) null;`);
    // Partial: only the rows still in line (a few, however large the inbox grows), for the claim's two questions:
    // which events come first, and what is before each in its key's line.
    this.addSql(`create index "webhook_event_line_index" on "webhook_event" ("received_at", "id") where "status" in ('received', 'processing', 'failed');`);
    this.addSql(`create index "webhook_event_key_line_index" on "webhook_event" ("ordering_key", "received_at", "id") where "status" in ('received', 'processing', 'failed');`);
    // Rows still waiting when this runs take their place in line like new ones (src/webhooks/inbox/ordering-key.ts).
    this.addSql(`update "webhook_event"
      set "ordering_key" = coalesce(
        case jsonb_typeof("payload"->'data'->'object'->'customer')
          when 'string' then "payload"->'data'->'object'->>'customer'
          when 'object' then "payload"->'data'->'object'->'customer'->>'id'
        end,
        case when "payload"->'data'->'object'->>'object' = 'customer' then "payload"->'data'->'object'->>'id' end,
        "object_id")
      where "status" in ('received', 'processing', 'failed');`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "webhook_event_key_line_index";`);
    this.addSql(`drop index "webhook_event_line_index";`);
    this.addSql(`alter table "webhook_event" drop column "ordering_key";`);
  }

}
