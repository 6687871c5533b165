import { Migration } from '@mikro-orm/migrations';

/**
 * The model-call hot path (issue 17): each change of an account's credits dropped its expired holds and lots
 * first, two statements that almost never found anything. The balance row now keeps the soonest expiry of the
 * account's live holds and lots (never later than any of them; null when none can expire), so the drop runs only
 * when something can be due. Existing rows get it from their live holds and lots.
 */
export class Migration20261207170000_credit_next_expiry extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "credit_balance" add column "next_expiry_at" timestamptz null;`);
    this.addSql(`update "credit_balance" balance set "next_expiry_at" = least(
      (select min(hold.expires_at) from credit_hold hold where hold.account_id = balance.account_id and hold.state = 'held'),
      (select min(lot.expires_at) from credit_lot lot where lot.account_id = balance.account_id and lot.remaining > 0));`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "credit_balance" drop column "next_expiry_at";`);
  }
}
