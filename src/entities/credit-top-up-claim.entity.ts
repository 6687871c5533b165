import { BigIntType, Check, Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * An automatic top-up's amount claimed against the spend limit (spend-limits.ts), keyed by its attempt (the charge's
 * idempotency key is `auto-top-up:<attempt>`): a resumed charge of the same attempt finds its claim and counts
 * nothing more. `givenBack`: the charge was declined and its amount left `periodStart`'s spend.
 */
@Entity({ tableName: 'credit_top_up_claim' })
@Check({ name: 'credit_top_up_claim_cents_check', expression: 'cents > 0' })
export class CreditTopUpClaim {
  @PrimaryKey({ type: 'string', length: 255 })
  accountId!: string;

  @PrimaryKey({ type: 'integer' })
  attempt!: number;

  /** The usage period whose spend it was added to (and is given back from). */
  @Property({ type: 'datetime' })
  periodStart!: Date;

  /** The pack's amount in minor units of the account's currency, before tax. */
  @Property({ type: new BigIntType('number') })
  cents!: number;

  @Property({ type: 'boolean' })
  givenBack = false;

  @Property({ type: 'datetime' })
  createdAt!: Date;

  @Property({ type: 'datetime' })
  updatedAt!: Date;
}
