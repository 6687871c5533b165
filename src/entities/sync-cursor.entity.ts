import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** Where a background job left off (e.g. the reconciler's last Stripe event), so a restart resumes there. */
@Entity({ tableName: 'sync_cursor' })
export class SyncCursor {
  @PrimaryKey({ type: 'string', length: 64 })
  name!: string;

  @Property({ type: 'string', length: 255 })
  value!: string;

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
