import { Migration } from '@mikro-orm/migrations';

/**
 * The credits ledger (issue 17, ADR 0025, docs/credits.md): lots (one per grant, what is left of it), append-only
 * entries, one balance row per account (the row every change locks), and holds. A trigger refuses any update or
 * delete of an entry: the ledger is append-only in the database, not only by convention.
 */
export class Migration20261207100000_credit_ledger extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "credit_balance" ("account_id" varchar(255) not null, "balance" bigint not null default 0, "held" bigint not null default 0, "updated_at" timestamptz not null, constraint "credit_balance_pkey" primary key ("account_id"), constraint credit_balance_held_check check (held >= 0), constraint credit_balance_balance_check check (balance >= 0));`);

    this.addSql(`create table "credit_hold" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "account_id" varchar(255) not null, "member_id" varchar(255) null, "credits" bigint not null, "expires_at" timestamptz not null, "state" varchar(16) not null default 'held', "settled_credits" bigint null, constraint "credit_hold_pkey" primary key ("id"), constraint credit_hold_credits_check check (credits >= 0));`);
    this.addSql(`create index "credit_hold_account_id_state_expires_at_index" on "credit_hold" ("account_id", "state", "expires_at");`);

    this.addSql(`create table "credit_ledger_entry" ("id" bigserial primary key, "account_id" varchar(255) not null, "kind" varchar(16) not null, "credits" bigint not null, "balance_after" bigint not null, "uncovered" bigint not null default 0, "lot_id" uuid null, "reason" text not null, "source_type" varchar(32) not null, "source_id" varchar(255) not null, "actor" varchar(255) not null, "created_at" timestamptz not null);`);
    this.addSql(`create index "credit_ledger_entry_account_id_kind_source_type_source_id_index" on "credit_ledger_entry" ("account_id", "kind", "source_type", "source_id");`);
    this.addSql(`create index "credit_ledger_entry_account_id_id_index" on "credit_ledger_entry" ("account_id", "id");`);

    this.addSql(`create table "credit_lot" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "account_id" varchar(255) not null, "kind" varchar(16) not null, "credits" bigint not null, "remaining" bigint not null, "expires_at" timestamptz null, "source_type" varchar(32) not null, "source_id" varchar(255) not null, constraint "credit_lot_pkey" primary key ("id"), constraint credit_lot_remaining_check check (remaining >= 0 and remaining <= credits));`);
    this.addSql(`create index "credit_lot_expires_at_index" on "credit_lot" ("expires_at");`);
    this.addSql(`create index "credit_lot_account_id_remaining_index" on "credit_lot" ("account_id", "remaining");`);
    this.addSql(`alter table "credit_lot" add constraint "credit_lot_account_id_source_type_source_id_unique" unique ("account_id", "source_type", "source_id");`);

    this.addSql(`create function credit_ledger_entry_append_only() returns trigger language plpgsql as $$ begin raise exception 'credit_ledger_entry is append-only: % refused', tg_op; end $$;`);
    this.addSql(`create trigger credit_ledger_entry_append_only before update or delete on "credit_ledger_entry" for each row execute function credit_ledger_entry_append_only();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "credit_balance" cascade;`);

    this.addSql(`drop table if exists "credit_hold" cascade;`);

    this.addSql(`drop table if exists "credit_ledger_entry" cascade;`);
    this.addSql(`drop function if exists credit_ledger_entry_append_only();`);

    this.addSql(`drop table if exists "credit_lot" cascade;`);
  }

}
