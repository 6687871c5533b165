import { Entity, Index, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

/**
 * What a mail is about. A plain string column, checked in code, so a new kind needs no migration;
 * `usage_threshold` carries its percentage in its data and its dedupe key (once per metric, period and threshold).
 */
export const NOTIFICATION_KINDS = [
  'payment_failed',
  'trial_will_end',
  'subscription_canceled',
  'usage_threshold',
  'payment_action_required',
  'duplicate_subscription_canceled',
  'dispute_opened',
  'dispute_closed',
  'auto_top_up_failed',
  'spend_limit_alert',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export const NOTIFICATION_STATUSES = ['pending', 'sending', 'sent', 'failed'] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/**
 * The mail outbox: a row is written in the same transaction as the change it tells about, and the mail worker
 * sends it afterwards. The unique dedupe key makes an event handled twice (or by two instances) one mail.
 */
@Entity({ tableName: 'notification' })
@Index({ properties: ['status', 'nextAttemptAt'] })
@Index({ properties: ['accountId', 'createdAt'] })
export class Notification extends BaseEntity<
  'status' | 'attempts' | 'nextAttemptAt' | 'lastError' | 'sentAt'
> {
  @Property({ type: 'string', length: 255 })
  accountId!: string;

  /** One of `NOTIFICATION_KINDS`. */
  @Property({ type: 'string', length: 32 })
  kind!: string;

  @Property({ type: 'string', length: 320 })
  recipient!: string;

  /** The template's input (amounts in integer minor units, dates as ISO strings); rendered when sent. */
  @Property({ type: 'json' })
  data!: Record<string, unknown>;

  /** e.g. `payment_failed:<stripe invoice id>:<attempt>`; also the source of the mail's stable Message-ID. */
  @Unique()
  @Property({ type: 'string', length: 255 })
  dedupeKey!: string;

  /** One of `NOTIFICATION_STATUSES`. */
  @Property({ type: 'string', length: 16 })
  status: NotificationStatus = 'pending';

  /** Delivery attempts started, counted when a worker claims the row. */
  @Property({ type: 'integer' })
  attempts = 0;

  /** When a worker may pick the row: for `pending` the next try, for `sending` the end of the claim's lease. */
  @Property({ type: 'datetime' })
  nextAttemptAt: Date = new Date();

  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;

  @Property({ type: 'datetime', nullable: true })
  sentAt: Date | null = null;
}
