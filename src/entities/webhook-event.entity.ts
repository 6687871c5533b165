import { Entity, Enum, Index, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

/**
 * `dead`: failed too often or for too long (see `src/webhooks/inbox/inbox-retry-policy.ts`): no longer retried by the
 * reconciler, counted in the metrics for a person to look at; an admin replay or a Stripe redelivery still runs it.
 */
export const WEBHOOK_EVENT_STATUSES = [
  'received',
  'processing',
  'processed',
  'failed',
  'ignored',
  'dead',
] as const;
export type WebhookEventStatus = (typeof WEBHOOK_EVENT_STATUSES)[number];

/** The inbox: every Stripe event, stored by its id before anything else happens to it. */
@Entity({ tableName: 'webhook_event' })
@Index({ properties: ['status', 'receivedAt'] })
@Index({ properties: ['objectId'] })
// The retry index: only the rows still in line too (`InboxReads.dueForRetry` asks for nothing else), so marking an
// event processed adds no entry to it (migrations/…_webhook_waiting_retry_index.ts).
@Index({
  name: 'webhook_event_next_attempt_at_index',
  expression: `create index "webhook_event_next_attempt_at_index" on "webhook_event" ("next_attempt_at") where "status" in ('received', 'processing', 'failed')`,
})
// The queue's line (ADR 0020): partial, only the rows not done yet (migrations/…_webhook_queue.ts has the SQL).
@Index({
  name: 'webhook_event_line_index',
  expression: `create index "webhook_event_line_index" on "webhook_event" ("received_at", "id") where "status" in ('received', 'processing', 'failed')`,
})
@Index({
  name: 'webhook_event_key_line_index',
  expression: `create index "webhook_event_key_line_index" on "webhook_event" ("ordering_key", "received_at", "id") where "status" in ('received', 'processing', 'failed')`,
})
@Index({
  name: 'webhook_event_payload_kept_index',
  expression:
    'create index "webhook_event_payload_kept_index" on "webhook_event" ("received_at") where "payload" is not null',
})
export class WebhookEvent extends BaseEntity<
  | 'attempts'
  | 'lastError'
  | 'processedAt'
  | 'receivedAt'
  | 'objectId'
  | 'orderingKey'
  | 'source'
  | 'nextAttemptAt'
> {
  @Unique()
  @Property({ type: 'string', length: 255 })
  stripeEventId!: string;

  @Property({ type: 'string', length: 128 })
  type!: string;

  /**
   * The event as Stripe sent it; null once pruned (`WEBHOOK_PAYLOAD_RETENTION_DAYS` after a processed or
   * ignored event arrived: ADR 0021). The row stays, so a redelivery is still recognised as a duplicate.
   */
  @Property({ type: 'json', nullable: true })
  payload!: Record<string, unknown> | null;

  /** The id of the object the event is about (`data.object.id`), to find an object's history. */
  @Property({ type: 'string', length: 255, nullable: true })
  objectId: string | null = null;

  /**
   * Events with the same key are processed one at a time, in the order they arrived (ADR 0020): the Stripe
   * customer the object belongs to, else the object's own id (`src/webhooks/inbox/ordering-key.ts`).
   */
  @Property({ type: 'string', length: 255, nullable: true })
  orderingKey: string | null = null;

  /** How the event reached us: a webhook delivery, or the reconciler listing Stripe's events. */
  @Property({ type: 'string', length: 16 })
  source: 'webhook' | 'reconciler' = 'webhook';

  @Enum({ items: () => WEBHOOK_EVENT_STATUSES, nativeEnumName: 'webhook_event_status' })
  status: WebhookEventStatus = 'received';

  @Property({ type: 'integer' })
  attempts = 0;

  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;

  @Property({ type: 'datetime' })
  stripeCreatedAt!: Date;

  @Property({ type: 'datetime' })
  receivedAt: Date = new Date();

  @Property({ type: 'datetime', nullable: true })
  processedAt: Date | null = null;

  /**
   * While `processing`, when the worker's lease on the row ends (a row still processing then was left by an
   * instance that died: any instance's queue takes it over, ADR 0020). Otherwise when the reconciler may try
   * this event again: set when it is stored (a row still unprocessed then was left
   * behind by a crash) and after each failed attempt (back-off by attempt count); null once nothing is to be
   * retried (processed, ignored or dead). The retry batch takes the rows due longest ago first.
   */
  @Property({ type: 'datetime', nullable: true })
  nextAttemptAt: Date | null = null;
}
