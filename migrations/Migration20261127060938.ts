import { Migration } from '@mikro-orm/migrations';

export class Migration20261127060938 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "sync_cursor" ("name" varchar(64) not null, "value" varchar(255) not null, "updated_at" timestamptz not null, constraint "sync_cursor_pkey" primary key ("name"));`);

    this.addSql(`alter table "subscription" add column "past_due_since" timestamptz null;`);

    this.addSql(`alter table "webhook_event" add column "object_id" varchar(255) null, add column "source" varchar(16) not null default 'webhook';`);
    this.addSql(`create index "webhook_event_object_id_index" on "webhook_event" ("object_id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "sync_cursor" cascade;`);

    this.addSql(`alter table "subscription" drop column "past_due_since";`);

    this.addSql(`drop index "webhook_event_object_id_index";`);
    this.addSql(`alter table "webhook_event" drop column "object_id", drop column "source";`);
  }

}
