import { Migration } from '@mikro-orm/migrations';

export class Migration20261127081113_usage_metering extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "entitlement_override" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "account_id" varchar(255) not null, "feature_key" varchar(64) not null, "enabled" boolean not null, "limit" bigint null, "note" varchar(500) null, constraint "entitlement_override_pkey" primary key ("id"));`);
    this.addSql(`create index "entitlement_override_account_id_index" on "entitlement_override" ("account_id");`);
    this.addSql(`alter table "entitlement_override" add constraint "entitlement_override_account_id_feature_key_unique" unique ("account_id", "feature_key");`);

    this.addSql(`create table "usage_counter" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "account_id" varchar(255) not null, "metric" varchar(64) not null, "period_start" timestamptz not null, "period_end" timestamptz not null, "used" bigint not null default 0, "peak" bigint not null default 0, "level_at" timestamptz null, "included" bigint null, "over_limit" varchar(16) not null default 'block', "threshold_notified" smallint not null default 0, "overage_reported" bigint not null default 0, "overage_pending" bigint null, "revision" bigint not null default 0, constraint "usage_counter_pkey" primary key ("id"));`);
    this.addSql(`create index "usage_counter_period_end_index" on "usage_counter" ("period_end");`);
    this.addSql(`alter table "usage_counter" add constraint "usage_counter_account_id_metric_period_start_unique" unique ("account_id", "metric", "period_start");`);

    this.addSql(`alter table "usage_record" drop column "reported_at";`);

    // Rows written before usage periods existed count in the period of when they happened.
    this.addSql(`alter table "usage_record" add column "period_start" timestamptz null;`);
    this.addSql(`update "usage_record" set "period_start" = "occurred_at";`);
    this.addSql(`alter table "usage_record" alter column "period_start" set not null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "entitlement_override" cascade;`);

    this.addSql(`drop table if exists "usage_counter" cascade;`);

    this.addSql(`alter table "usage_record" drop column "period_start";`);

    this.addSql(`alter table "usage_record" add column "reported_at" timestamptz(6) null;`);
  }

}
