import { BigIntType, Entity, Index, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

/**
 * - `held`: counts against the counter's limit (in `usage_counter.reserved`) until it expires;
 * - `committed`: turned into a use of the quantity actually used;
 * - `released`: given back unused;
 * - `expired`: its time ran out before a commit or release; the hold was dropped (a late commit still records).
 */
export type UsageReservationStatus = 'held' | 'committed' | 'released' | 'expired';

/**
 * A hold on part of a usage counter's allowance while a request is being served: `reserveUsage` before the work,
 * `commitUsage` with what was used after it, `releaseUsage` if it failed. A hold expires by itself at
 * `expiresAt`, so a caller that crashed never keeps an account's allowance held.
 */
@Entity({ tableName: 'usage_reservation' })
@Unique({ properties: ['accountId', 'idempotencyKey'] })
@Index({ properties: ['counterId', 'status'] })
// BRIN (migration Migration20261208175000_usage_reservation_retention): rows are written in time order, and only
// the maintenance job's delete of finished reservations past the retention reads by `createdAt`.
@Index({ properties: ['createdAt'], type: 'brin' })
export class UsageReservation extends BaseEntity<'committedQuantity' | 'idempotencyKey' | 'status'> {
  @Property({ type: 'string', length: 255 })
  accountId!: string;

  /** The usage counter (account, metric, usage period) the hold is against. */
  @Property({ type: 'uuid' })
  counterId!: string;

  @Property({ type: 'string', length: 64 })
  metric!: string;

  /** What is held. */
  @Property({ type: new BigIntType('number') })
  quantity!: number;

  /** What the commit recorded (may be more or less than held); null until committed. */
  @Property({ type: new BigIntType('number'), nullable: true })
  committedQuantity: number | null = null;

  @Property({ type: 'string', length: 16 })
  status: UsageReservationStatus = 'held';

  @Property({ type: 'datetime' })
  expiresAt!: Date;

  /** The caller's key: reserving again with it answers the same reservation. */
  @Property({ type: 'string', length: 255, nullable: true })
  idempotencyKey: string | null = null;
}
