import { BigIntType, Entity, Index, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';

/**
 * An admin's exception to an account's plan (typically an enterprise contract): it replaces the plan's
 * entitlement for one feature or metric, and survives plan changes until an admin removes it.
 */
@Entity({ tableName: 'entitlement_override' })
@Unique({ properties: ['accountId', 'featureKey'] })
@Index({ properties: ['accountId'] })
export class EntitlementOverride extends BaseEntity<'limit' | 'note'> {
  @Property({ type: 'string', length: 255 })
  accountId!: string;

  @Property({ type: 'string', length: 64 })
  featureKey!: string;

  @Property({ type: 'boolean' })
  enabled!: boolean;

  /** For a metric: the included amount instead of the plan's; null = unlimited. */
  @Property({ type: new BigIntType('number'), nullable: true })
  limit: number | null = null;

  /** Why (e.g. the contract reference), for the next admin. */
  @Property({ type: 'string', length: 500, nullable: true })
  note: string | null = null;
}
