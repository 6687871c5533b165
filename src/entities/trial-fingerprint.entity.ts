import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * A card that started a trial: Stripe gives every card a `fingerprint` that is the same on every account, so a
 * second trial with the same card on another account is recognised (one trial per card, not only per account).
 */
@Entity({ tableName: 'trial_fingerprint' })
export class TrialFingerprint {
  @PrimaryKey({ type: 'string', length: 64 })
  fingerprint!: string;

  /** The account whose trial used it first. */
  @Property({ type: 'string', length: 255 })
  accountId!: string;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
