import { BigIntType, Entity, Index, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

/**
 * One usage event, durable before it counts. The caller's idempotency key is unique per account, so a retry
 * is recognised as a duplicate and never counted twice.
 */
@Entity({ tableName: 'usage_record' })
@Unique({ properties: ['accountId', 'idempotencyKey'] })
@Index({ properties: ['accountId', 'metric', 'occurredAt'] })
export class UsageRecord extends BaseEntity<'occurredAt'> {
  @Property({ type: 'string', length: 255 })
  accountId!: string;

  @Property({ type: 'string', length: 64 })
  metric!: string;

  @Property({ type: new BigIntType('number') })
  quantity!: number;

  @Property({ type: 'string', length: 255 })
  idempotencyKey!: string;

  @Property({ type: 'datetime' })
  occurredAt: Date = new Date();

  /** The usage period it counted in (the `UsageCounter` it added to). */
  @Property({ type: 'datetime' })
  periodStart!: Date;
}
