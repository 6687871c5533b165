import { Migration } from '@mikro-orm/migrations';

export class Migration20261205032711_checkout_sessions_disputes extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "checkout_session" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "stripe_session_id" varchar(255) not null, "account_id" varchar(255) not null, "plan_key" varchar(64) not null, "interval" "billing_interval" not null, "with_trial" boolean not null default false, constraint "checkout_session_pkey" primary key ("id"));`);
    this.addSql(`alter table "checkout_session" add constraint "checkout_session_stripe_session_id_unique" unique ("stripe_session_id");`);
    this.addSql(`create index "checkout_session_account_id_created_at_index" on "checkout_session" ("account_id", "created_at");`);

    this.addSql(`create table "dispute" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "stripe_dispute_id" varchar(255) not null, "account_id" varchar(255) null, "stripe_charge_id" varchar(255) not null, "stripe_payment_intent_id" varchar(255) null, "stripe_invoice_id" varchar(255) null, "amount" bigint not null, "currency" varchar(3) not null, "reason" varchar(64) not null, "status" varchar(32) not null, "evidence_due_by" timestamptz null, "closed_at" timestamptz null, "stripe_created_at" timestamptz not null, "stripe_updated_at" timestamptz not null, constraint "dispute_pkey" primary key ("id"));`);
    this.addSql(`alter table "dispute" add constraint "dispute_stripe_dispute_id_unique" unique ("stripe_dispute_id");`);
    this.addSql(`create index "dispute_status_index" on "dispute" ("status");`);
    this.addSql(`create index "dispute_account_id_stripe_created_at_index" on "dispute" ("account_id", "stripe_created_at");`);

    this.addSql(`create table "duplicate_subscription" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "stripe_subscription_id" varchar(255) not null, "kept_subscription_id" varchar(255) not null, "account_id" varchar(255) not null, "amount_refunded" bigint not null, "currency" varchar(3) not null, constraint "duplicate_subscription_pkey" primary key ("id"));`);
    this.addSql(`alter table "duplicate_subscription" add constraint "duplicate_subscription_stripe_subscription_id_unique" unique ("stripe_subscription_id");`);
    this.addSql(`create index "duplicate_subscription_account_id_created_at_index" on "duplicate_subscription" ("account_id", "created_at");`);

    this.addSql(`alter table "invoice" add column "amount_refunded" bigint not null default 0;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "checkout_session" cascade;`);

    this.addSql(`drop table if exists "dispute" cascade;`);

    this.addSql(`drop table if exists "duplicate_subscription" cascade;`);

    this.addSql(`alter table "invoice" drop column "amount_refunded";`);
  }

}
