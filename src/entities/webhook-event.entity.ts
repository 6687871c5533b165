import { Entity, Enum, Index, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

export const WEBHOOK_EVENT_STATUSES = ['received', 'processing', 'processed', 'failed', 'ignored'] as const;
export type WebhookEventStatus = (typeof WEBHOOK_EVENT_STATUSES)[number];

/** The inbox: every Stripe event, stored by its id before anything else happens to it. */
@Entity({ tableName: 'webhook_event' })
@Index({ properties: ['status', 'receivedAt'] })
@Index({ properties: ['objectId'] })
export class WebhookEvent extends BaseEntity<
  'attempts' | 'lastError' | 'processedAt' | 'receivedAt' | 'objectId' | 'source'
> {
  @Unique()
  @Property({ type: 'string', length: 255 })
  stripeEventId!: string;

  @Property({ type: 'string', length: 128 })
  type!: string;

  @Property({ type: 'json' })
  payload!: Record<string, unknown>;

  /** The id of the object the event is about (`data.object.id`), to find an object's history. */
  @Property({ type: 'string', length: 255, nullable: true })
  objectId: string | null = null;

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
}
