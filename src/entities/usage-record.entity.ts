import { randomUUID } from 'node:crypto';
import { BigIntType, Entity, OptionalProps, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';

/**
 * One usage event, durable before it counts. The table is partitioned by day on `createdAt` (when the record
 * was written: ADR 0021), so its primary key includes it, and whole days are dropped past the retention. The
 * caller's idempotency key is unique per account through `UsageRecordKey`, for the idempotency window. No index by
 * account: nothing reads records by account (ADR 0034), and each index is a write per record.
 */
@Entity({ tableName: 'usage_record' })
export class UsageRecord {
  [OptionalProps]?: 'id' | 'createdAt' | 'updatedAt' | 'occurredAt';
  [PrimaryKeyProp]?: ['createdAt', 'id'];

  /** First: a new record's key is at the right edge of the index, wherever its id falls. */
  @PrimaryKey({ type: 'datetime' })
  createdAt: Date = new Date();

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'datetime' })
  updatedAt: Date = new Date();

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
