import { BigIntType, Entity, Index, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

/** What an account may use now, as provisioned from its plan: one indexed read answers a feature check. */
@Entity({ tableName: 'entitlement' })
@Unique({ properties: ['accountId', 'featureKey'] })
@Index({ properties: ['accountId'] })
export class Entitlement extends BaseEntity<'limit'> {
  @Property({ type: 'string', length: 255 })
  accountId!: string;

  @Property({ type: 'string', length: 64 })
  featureKey!: string;

  @Property({ type: 'boolean' })
  enabled!: boolean;

  /** The usage limit for the feature; null means unlimited (or not a metered feature). */
  @Property({ type: new BigIntType('number'), nullable: true })
  limit: number | null = null;
}
