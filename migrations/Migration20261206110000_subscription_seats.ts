import { Migration } from '@mikro-orm/migrations';

/**
 * Seats bought beyond a per-seat plan's included ones (the quantity of the subscription's extra-seats item, ADR
 * 0024), and the number the subscription keeps from the period end on when seats were removed (a schedule phase).
 */
export class Migration20261206110000_subscription_seats extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "subscription" add column "extra_seats" int not null default 0, add column "scheduled_extra_seats" int null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "subscription" drop column "extra_seats", drop column "scheduled_extra_seats";`);
  }
}
