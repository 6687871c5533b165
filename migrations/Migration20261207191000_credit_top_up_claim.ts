import { Migration } from '@mikro-orm/migrations';

/**
 * An automatic top-up's claim against the spend limit, one per top-up attempt (docs/credits.md "Overage and the
 * spend limit"; billing-rules row 82): a charge resumed after a crash claims the same attempt again and finds it,
 * so the pack's amount is counted once; a decline gives it back once, from the period it was claimed in.
 *
 * And whether a subscription carries the `ai_credits` metered item (billing-rules row 84): one made before the price
 * existed does not, so Stripe has no line to bill credits beyond the balance on, and they are refused until it does.
 * False for every row until its next read from Stripe (an event, the reconciler) says otherwise: refusing overage a
 * little too long costs nothing; billing it on no line loses it.
 */
export class Migration20261207191000_credit_top_up_claim extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "credit_top_up_claim" ("account_id" varchar(255) not null, "attempt" int not null, "period_start" timestamptz not null, "cents" bigint not null, "given_back" boolean not null default false, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "credit_top_up_claim_pkey" primary key ("account_id", "attempt"), constraint credit_top_up_claim_cents_check check (cents > 0));`,
    );

    this.addSql(
      `alter table "subscription" add column "credits_overage_item" boolean not null default false;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "subscription" drop column "credits_overage_item";`);
    this.addSql(`drop table if exists "credit_top_up_claim" cascade;`);
  }
}
