import { BigIntType, Entity, Index, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

/** What happens past a metric's included amount: refuse the use, or bill it as overage. */
export type OverLimitRule = 'block' | 'bill_overage';

/**
 * An account's usage of one metric in one usage period: the row every check-and-increment locks, so a hard
 * limit holds under any concurrency. It is the source of truth; Redis holds copies of it for fast reads.
 *
 * It also snapshots the rule that applied when the usage was recorded (`included`, `overLimit`), so the overage
 * of a period that has ended is still known after the account changes plan, and it tracks what the overage
 * reporter has sent to Stripe's meter (`overageReported`, and `overagePending` with what the report sends while
 * it is in flight, its failed attempts and when it may be sent again).
 */
@Entity({ tableName: 'usage_counter' })
@Unique({ properties: ['accountId', 'metric', 'periodStart'] })
@Index({ properties: ['periodEnd'] })
@Index({ properties: ['overagePendingSince'] })
export class UsageCounter extends BaseEntity<
  | 'used'
  | 'peak'
  | 'levelAt'
  | 'included'
  | 'planIncluded'
  | 'reserved'
  | 'overLimit'
  | 'thresholdNotified'
  | 'overageReported'
  | 'overagePending'
  | 'overagePendingTimestamp'
  | 'overagePendingSince'
  | 'overageAttempts'
  | 'overageNextAttemptAt'
  | 'revision'
> {
  @Property({ type: 'string', length: 255 })
  accountId!: string;

  @Property({ type: 'string', length: 64 })
  metric!: string;

  @Property({ type: 'datetime' })
  periodStart!: Date;

  @Property({ type: 'datetime' })
  periodEnd!: Date;

  /** Counters: the period's total so far. Gauges: the latest level. */
  @Property({ type: new BigIntType('number') })
  used = 0;

  /** The highest value of the period: what overage is billed on (equals `used` for a counter). */
  @Property({ type: new BigIntType('number') })
  peak = 0;

  /** Gauges: when the latest level was measured, so a late-arriving older level does not overwrite it. */
  @Property({ type: 'datetime', nullable: true })
  levelAt: Date | null = null;

  /**
   * The period's allowance: what the fees paid for this period include (null = unlimited). Set from the plan when
   * the counter is made; when the account's allowance changes inside the period it becomes the time-weighted
   * sum of each allowance over the part of the period it was in force (`allowance-settlement.ts`). Hard limits,
   * the overage billed and the overage shown are all measured against it.
   */
  @Property({ type: new BigIntType('number'), nullable: true })
  included: number | null = null;

  /**
   * The allowance in force now, for a whole period (the plan's, or an admin override's; null = unlimited): what
   * the rest of the period accrues at, and what a change is weighed against.
   */
  @Property({ type: new BigIntType('number'), nullable: true })
  planIncluded: number | null = null;

  /** Held by reservations not yet committed, released or expired (`usage_reservation`). */
  @Property({ type: new BigIntType('number') })
  reserved = 0;

  @Property({ type: 'string', length: 16 })
  overLimit: OverLimitRule = 'block';

  /** Raised by every change: a copy (Redis) is only ever replaced by a newer revision, never by an older one. */
  @Property({ type: new BigIntType('number') })
  revision = 0;

  /** The highest usage notification sent this period: 0 (none), 80 or 100 (% of included). */
  @Property({ type: 'smallint' })
  thresholdNotified = 0;

  /** Overage units this period that Stripe's meter has acknowledged (the sum of every report sent). */
  @Property({ type: new BigIntType('number') })
  overageReported = 0;

  /**
   * The cumulative overage a report in flight is raising `overageReported` to. Written before the report is sent
   * and cleared after; after a crash the same report (same identifier, same value) is sent again, so Stripe's
   * de-duplication makes a resend harmless.
   */
  @Property({ type: new BigIntType('number'), nullable: true })
  overagePending: number | null = null;

  /**
   * The meter event timestamp the pending report was first sent with (whole seconds). Kept with the total so a
   * resend is the first send byte for byte: same parameters, so the same idempotency key and identifier.
   */
  @Property({ type: 'datetime', nullable: true })
  overagePendingTimestamp: Date | null = null;

  /** When the pending report was first marked pending: how long it has been waiting (the stuck-report alert). */
  @Property({ type: 'datetime', nullable: true })
  overagePendingSince: Date | null = null;

  /** Failed sends of the pending report so far; failing reports go behind the others, with a back-off. */
  @Property({ type: 'integer' })
  overageAttempts = 0;

  /**
   * Not before this time will a pass send the pending report again: a short lease while one reporter sends it,
   * or the back-off after a failure. Null: whenever due.
   */
  @Property({ type: 'datetime', nullable: true })
  overageNextAttemptAt: Date | null = null;
}
