import { BigIntType, Entity, Index, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

/** What an account may use now, as provisioned from its plan: one indexed read answers a feature check. */
@Entity({ tableName: 'entitlement' })
@Unique({ properties: ['accountId', 'featureKey'] })
@Index({ properties: ['accountId'] })
export class Entitlement extends BaseEntity<'limit' | 'provisionedFor'> {
  @Property({ type: 'string', length: 255 })
  accountId!: string;

  @Property({ type: 'string', length: 64 })
  featureKey!: string;

  @Property({ type: 'boolean' })
  enabled!: boolean;

  /** The usage limit for the feature; null means unlimited (or not a metered feature). */
  @Property({ type: new BigIntType('number'), nullable: true })
  limit: number | null = null;

  /**
   * What the rows were provisioned for: the Stripe subscription whose usage periods they govern, or null for
   * the free plan (calendar months). A change of allowance under the same subscription is weighed within its
   * usage period; under a new one, its periods start afresh.
   */
  @Property({ type: 'string', length: 255, nullable: true })
  provisionedFor: string | null = null;
}
