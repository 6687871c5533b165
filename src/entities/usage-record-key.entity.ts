import { BigIntType, Entity, Index, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';

/**
 * An idempotency key recorded in the window in which it can repeat (`USAGE_IDEMPOTENCY_WINDOW_HOURS`): its
 * unique (account, key) is what makes a repeat a duplicate, under any concurrency, whichever day's partition of
 * `usage_record` the first one went to (ADR 0021). Keys older than the window are deleted by the maintenance
 * job. `metric` and `quantity` tell a retry (the same use) from a key reused for another use.
 */
@Entity({ tableName: 'usage_record_key' })
// BRIN (migration Migration20261208142300_usage_batch_unseen_keys): keys are written in time order, and only the
// retention's delete of keys past the window reads by `createdAt`; an insert then descends no B-tree for it.
@Index({ properties: ['createdAt'], type: 'brin' })
export class UsageRecordKey {
  [PrimaryKeyProp]?: ['accountId', 'idempotencyKey'];

  @PrimaryKey({ type: 'string', length: 255 })
  accountId!: string;

  @PrimaryKey({ type: 'string', length: 255 })
  idempotencyKey!: string;

  @Property({ type: 'string', length: 64 })
  metric!: string;

  @Property({ type: new BigIntType('number') })
  quantity!: number;

  /** When its record was written: the window is counted from here. */
  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
