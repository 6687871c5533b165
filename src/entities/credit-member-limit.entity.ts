import { BigIntType, Check, Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * A team member's monthly credit limit, set by the account's admins (`setMemberLimit`). The row a hold for the
 * member locks (`FOR UPDATE`) before it weighs the member's spend, so two holds of one member never both pass.
 * No row: the member is limited by the account's balance only.
 */
@Entity({ tableName: 'credit_member_limit' })
@Check({ name: 'credit_member_limit_monthly_credits_check', expression: 'monthly_credits >= 0' })
export class CreditMemberLimit {
  @PrimaryKey({ type: 'string', length: 255 })
  accountId!: string;

  /** The calling service's id of the member (1 to 128 printable characters). */
  @PrimaryKey({ type: 'string', length: 128 })
  memberId!: string;

  /** Whole credits the member may use per calendar month (UTC); 0 stops the member's work. */
  @Property({ type: new BigIntType('number') })
  monthlyCredits!: number;

  @Property({ type: 'datetime' })
  updatedAt!: Date;

  /** Who set it: `customer:<account>` or `admin:<account>`. */
  @Property({ type: 'string', length: 255 })
  updatedBy!: string;
}
