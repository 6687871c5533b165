import { Migration } from '@mikro-orm/migrations';

/**
 * Token reservations (issue 17 item 3): a hold made for a model call keeps the model and the moment it was
 * priced, so its commit is priced at the rate in effect when it was reserved (docs/billing-rules.md row 63),
 * whenever it is committed. Holds of other kinds leave both null.
 */
export class Migration20261207140000_token_reservations extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "credit_hold" add column "model" varchar(64) null, add column "priced_at" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "credit_hold" drop column "model", drop column "priced_at";`);
  }
}
