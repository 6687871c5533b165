import { Migration } from '@mikro-orm/migrations';

export class Migration20261127053511 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create type "subscription_status" as enum ('incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'unpaid', 'canceled', 'paused');`,
    );
    this.addSql(`create type "billing_interval" as enum ('month', 'year');`);
    this.addSql(
      `create type "webhook_event_status" as enum ('received', 'processing', 'processed', 'failed', 'ignored');`,
    );
    this.addSql(
      `create table "billing_customer" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "account_id" varchar(255) not null, "stripe_customer_id" varchar(255) null, "email" varchar(320) null, "name" varchar(255) null, "address" jsonb null, "deleted_at" timestamptz null, "stripe_updated_at" timestamptz null, constraint "billing_customer_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "billing_customer" add constraint "billing_customer_account_id_unique" unique ("account_id");`,
    );
    this.addSql(
      `alter table "billing_customer" add constraint "billing_customer_stripe_customer_id_unique" unique ("stripe_customer_id");`,
    );

    this.addSql(
      `create table "entitlement" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "account_id" varchar(255) not null, "feature_key" varchar(64) not null, "enabled" boolean not null, "limit" bigint null, constraint "entitlement_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "entitlement_account_id_index" on "entitlement" ("account_id");`);
    this.addSql(
      `alter table "entitlement" add constraint "entitlement_account_id_feature_key_unique" unique ("account_id", "feature_key");`,
    );

    this.addSql(
      `create table "invoice" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "stripe_invoice_id" varchar(255) not null, "customer_id" uuid not null, "account_id" varchar(255) not null, "stripe_subscription_id" varchar(255) null, "number" varchar(64) null, "status" varchar(32) not null, "amount_due" bigint not null, "amount_paid" bigint not null, "amount_remaining" bigint not null, "currency" varchar(3) not null, "billing_reason" varchar(64) null, "period_start" timestamptz null, "period_end" timestamptz null, "hosted_invoice_url" text null, "invoice_pdf" text null, "stripe_created_at" timestamptz not null, "stripe_updated_at" timestamptz not null, constraint "invoice_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "invoice" add constraint "invoice_stripe_invoice_id_unique" unique ("stripe_invoice_id");`,
    );
    this.addSql(
      `create index "invoice_account_id_stripe_created_at_index" on "invoice" ("account_id", "stripe_created_at");`,
    );

    this.addSql(
      `create table "payment_method" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "stripe_payment_method_id" varchar(255) not null, "customer_id" uuid not null, "account_id" varchar(255) not null, "brand" varchar(32) null, "last4" varchar(4) null, "exp_month" smallint null, "exp_year" smallint null, "is_default" boolean not null default false, "stripe_updated_at" timestamptz not null, constraint "payment_method_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "payment_method" add constraint "payment_method_stripe_payment_method_id_unique" unique ("stripe_payment_method_id");`,
    );
    this.addSql(`create index "payment_method_account_id_index" on "payment_method" ("account_id");`);

    this.addSql(
      `create table "subscription" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "stripe_subscription_id" varchar(255) not null, "customer_id" uuid not null, "account_id" varchar(255) not null, "status" "subscription_status" not null, "plan_key" varchar(64) not null, "price_id" varchar(255) null, "interval" "billing_interval" not null, "current_period_start" timestamptz null, "current_period_end" timestamptz null, "cancel_at_period_end" boolean not null default false, "canceled_at" timestamptz null, "trial_start" timestamptz null, "trial_end" timestamptz null, "stripe_updated_at" timestamptz not null, constraint "subscription_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "subscription" add constraint "subscription_stripe_subscription_id_unique" unique ("stripe_subscription_id");`,
    );
    this.addSql(
      `create index "subscription_account_id_status_index" on "subscription" ("account_id", "status");`,
    );

    this.addSql(
      `create table "usage_record" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "account_id" varchar(255) not null, "metric" varchar(64) not null, "quantity" bigint not null, "idempotency_key" varchar(255) not null, "occurred_at" timestamptz not null, "reported_at" timestamptz null, constraint "usage_record_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "usage_record_account_id_metric_occurred_at_index" on "usage_record" ("account_id", "metric", "occurred_at");`,
    );
    this.addSql(
      `alter table "usage_record" add constraint "usage_record_account_id_idempotency_key_unique" unique ("account_id", "idempotency_key");`,
    );

    this.addSql(
      `create table "webhook_event" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "stripe_event_id" varchar(255) not null, "type" varchar(128) not null, "payload" jsonb not null, "status" "webhook_event_status" not null default 'received', "attempts" int not null default 0, "last_error" text null, "stripe_created_at" timestamptz not null, "received_at" timestamptz not null, "processed_at" timestamptz null, constraint "webhook_event_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "webhook_event" add constraint "webhook_event_stripe_event_id_unique" unique ("stripe_event_id");`,
    );
    this.addSql(
      `create index "webhook_event_status_received_at_index" on "webhook_event" ("status", "received_at");`,
    );

    this.addSql(
      `alter table "invoice" add constraint "invoice_customer_id_foreign" foreign key ("customer_id") references "billing_customer" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "payment_method" add constraint "payment_method_customer_id_foreign" foreign key ("customer_id") references "billing_customer" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "subscription" add constraint "subscription_customer_id_foreign" foreign key ("customer_id") references "billing_customer" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "invoice" drop constraint "invoice_customer_id_foreign";`);

    this.addSql(`alter table "payment_method" drop constraint "payment_method_customer_id_foreign";`);

    this.addSql(`alter table "subscription" drop constraint "subscription_customer_id_foreign";`);

    this.addSql(`drop table if exists "billing_customer" cascade;`);

    this.addSql(`drop table if exists "entitlement" cascade;`);

    this.addSql(`drop table if exists "invoice" cascade;`);

    this.addSql(`drop table if exists "payment_method" cascade;`);

    this.addSql(`drop table if exists "subscription" cascade;`);

    this.addSql(`drop table if exists "usage_record" cascade;`);

    this.addSql(`drop table if exists "webhook_event" cascade;`);

    this.addSql(`drop type "subscription_status";`);
    this.addSql(`drop type "billing_interval";`);
    this.addSql(`drop type "webhook_event_status";`);
  }
}
