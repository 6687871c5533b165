import { Migration } from '@mikro-orm/migrations';

/**
 * The most output a model call's reservation was priced on (its `maxOutputTokens`), kept on the hold so the commit
 * can refuse more output than was reserved (docs/credits.md "A model call, reserved and committed"; billing-rules
 * row 81): the reservation is what the balance, the spend limit and a member's limit admitted. Null for holds made
 * before it was kept and for holds that are not a model call's.
 */
export class Migration20261207190000_credit_hold_max_output extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "credit_hold" add column "max_output_tokens" bigint null, add constraint "credit_hold_max_output_tokens_check" check (max_output_tokens >= 0);`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "credit_hold" drop column "max_output_tokens";`);
  }
}
