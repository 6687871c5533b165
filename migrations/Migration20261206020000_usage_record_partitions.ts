import { Migration } from '@mikro-orm/migrations';

/**
 * Data that does not grow without bound (issue 14, ADR 0021): `usage_record` becomes a table partitioned by day
 * on `created_at` (when the record was written), with a default partition as a safety net, and the
 * (account, idempotency key) guarantee moves to `usage_record_key`, a small table holding the keys of the
 * idempotency window only.
 *
 * A partitioned table's unique index must include the partition key, so `usage_record` alone can no longer
 * refuse a key repeated the next day. `usage_record_key` keeps the unique (account, key) index the guarantee
 * rests on, for as long as a key can repeat; the maintenance job deletes older keys and drops whole partitions.
 *
 * Existing rows are moved: each day they span gets its partition; the keys of the last 7 days (the longest
 * window `USAGE_IDEMPOTENCY_WINDOW_HOURS` allows) are copied; the maintenance job prunes to the configured one.
 */
export class Migration20261206020000_usage_record_partitions extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "usage_record" rename to "usage_record_unpartitioned";`);
    this.addSql(`alter table "usage_record_unpartitioned" rename constraint "usage_record_pkey" to "usage_record_unpartitioned_pkey";`);
    this.addSql(`alter index "usage_record_account_id_metric_occurred_at_index" rename to "usage_record_unpartitioned_account_metric_index";`);
    this.addSql(
      `create table "usage_record" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "account_id" varchar(255) not null, "metric" varchar(64) not null, "quantity" bigint not null, "idempotency_key" varchar(255) not null, "occurred_at" timestamptz not null, "period_start" timestamptz not null, constraint "usage_record_pkey" primary key ("created_at", "id")) partition by range ("created_at");`,
    );
    this.addSql(
      `create index "usage_record_account_id_metric_occurred_at_index" on "usage_record" ("account_id", "metric", "occurred_at");`,
    );
    this.addSql(`create table "usage_record_default" partition of "usage_record" default;`);

    this.addSql(
      `create table "usage_record_key" ("account_id" varchar(255) not null, "idempotency_key" varchar(255) not null, "metric" varchar(64) not null, "quantity" bigint not null, "created_at" timestamptz not null, constraint "usage_record_key_pkey" primary key ("account_id", "idempotency_key"));`,
    );
    this.addSql(`create index "usage_record_key_created_at_index" on "usage_record_key" ("created_at");`);

    this.addSql(ENSURE_PARTITION);
    // Partitions for every day the old rows span and the week ahead, before the rows move (none lands in the
    // default partition then).
    this.addSql(`select usage_record_ensure_partition(day::date)
      from (select distinct date_trunc('day', created_at at time zone 'UTC') as day from "usage_record_unpartitioned"
            union select generate_series(date_trunc('day', now() at time zone 'UTC'),
                                         date_trunc('day', now() at time zone 'UTC') + interval '7 days',
                                         interval '1 day')) days;`);
    this.addSql(`insert into "usage_record" (id, created_at, updated_at, account_id, metric, quantity, idempotency_key, occurred_at, period_start)
      select id, created_at, updated_at, account_id, metric, quantity, idempotency_key, occurred_at, period_start
      from "usage_record_unpartitioned";`);
    this.addSql(`insert into "usage_record_key" (account_id, idempotency_key, metric, quantity, created_at)
      select account_id, idempotency_key, metric, quantity, created_at from "usage_record_unpartitioned"
      where created_at >= now() - interval '7 days';`);
    this.addSql(`drop table "usage_record_unpartitioned";`);
    // A reservation's record is made once by its status under the counter's lock (ADR 0016), not by a unique
    // index, which the partitioned table no longer has: the insert loses its `on conflict`.
    this.addSql(COMMIT_WITHOUT_CONFLICT_TARGET);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "usage_record" rename to "usage_record_partitioned";`);
    this.addSql(`alter table "usage_record_partitioned" rename constraint "usage_record_pkey" to "usage_record_partitioned_pkey";`);
    this.addSql(`alter index "usage_record_account_id_metric_occurred_at_index" rename to "usage_record_partitioned_account_metric_index";`);
    this.addSql(
      `create table "usage_record" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "account_id" varchar(255) not null, "metric" varchar(64) not null, "quantity" bigint not null, "idempotency_key" varchar(255) not null, "occurred_at" timestamptz not null, "period_start" timestamptz not null, constraint "usage_record_pkey" primary key ("id"));`,
    );
    // A key repeated across partitions was refused by usage_record_key: at most one row per key exists.
    this.addSql(`insert into "usage_record" select id, created_at, updated_at, account_id, metric, quantity, idempotency_key, occurred_at, period_start from "usage_record_partitioned";`);
    this.addSql(
      `create index "usage_record_account_id_metric_occurred_at_index" on "usage_record" ("account_id", "metric", "occurred_at");`,
    );
    this.addSql(
      `alter table "usage_record" add constraint "usage_record_account_id_idempotency_key_unique" unique ("account_id", "idempotency_key");`,
    );
    this.addSql(`drop table "usage_record_partitioned" cascade;`);
    this.addSql(`drop table "usage_record_key";`);
    this.addSql('drop function if exists usage_record_ensure_partition;');
    this.addSql(COMMIT_WITHOUT_CONFLICT_TARGET.replace('-- no conflict target', 'on conflict (account_id, idempotency_key) do nothing'));
  }
}

/**
 * Makes the partition of one UTC day unless it exists; true when it made it. Rows of that day that landed in
 * the default partition (no partition covered them when they were written) move into it in the same
 * transaction. The partition is made as a table of its own and attached: attaching takes a lock on the parent
 * that inserts do not wait for (creating it `partition of` would take one they do); the default partition is
 * locked and scanned, which is cheap while it is empty, as it is unless the job stopped running.
 */
const ENSURE_PARTITION = `
create or replace function usage_record_ensure_partition(p_day date) returns boolean language plpgsql as $$
declare
  partition_name text := 'usage_record_' || to_char(p_day, 'YYYYMMDD');
  low timestamptz := p_day::timestamp at time zone 'UTC';
  high timestamptz := (p_day + 1)::timestamp at time zone 'UTC';
begin
  if to_regclass(partition_name) is not null then return false; end if;
  execute format('create table %I (like usage_record including defaults)', partition_name);
  execute format(
    'with moved as (delete from usage_record_default where created_at >= $1 and created_at < $2 returning *)
     insert into %I select * from moved', partition_name) using low, high;
  -- Proves the bounds to ATTACH, so it need not scan the new partition's rows to check them.
  execute format('alter table %I add constraint %I check (created_at >= %L and created_at < %L)',
    partition_name, partition_name || '_bounds', low, high);
  execute format('alter table usage_record attach partition %I for values from (%L) to (%L)',
    partition_name, low, high);
  execute format('alter table %I drop constraint %I', partition_name, partition_name || '_bounds');
  return true;
end $$;`;

/** `usage_commit` of Migration20261205034840_usage_integrity, its record insert without a conflict target. */
const COMMIT_WITHOUT_CONFLICT_TARGET = `
create or replace function usage_commit(
  p_reservation_id uuid, p_account_id varchar, p_quantity bigint, p_now timestamptz, p_record_id uuid
) returns table (
  outcome varchar, counter_id uuid, metric varchar, used bigint, peak bigint, reserved bigint, included bigint,
  over_limit varchar, threshold_notified smallint, revision bigint, period_start timestamptz,
  period_end timestamptz
) language plpgsql as $$
#variable_conflict use_column
declare
  held usage_reservation%rowtype;
  counter usage_counter%rowtype;
  dropped bigint;
begin
  select * into held from usage_reservation r where r.id = p_reservation_id and r.account_id = p_account_id;
  if not found then
    return query select 'unknown'::varchar, null::uuid, null::varchar, null::bigint, null::bigint, null::bigint,
      null::bigint, null::varchar, null::smallint, null::bigint, null::timestamptz, null::timestamptz;
    return;
  end if;
  select * into counter from usage_counter c where c.id = held.counter_id for update;
  -- Read again under the counter's lock: a concurrent commit or release of this reservation may have won.
  select * into held from usage_reservation r where r.id = p_reservation_id;

  if held.status in ('committed', 'released') then
    return query select (case when held.status = 'committed' then 'duplicate' else 'released' end)::varchar,
      counter.id, counter.metric, counter.used, counter.peak, counter.reserved, counter.included,
      counter.over_limit, counter.threshold_notified, counter.revision, counter.period_start, counter.period_end;
    return;
  end if;

  with expired as (
    update usage_reservation r set status = 'expired', updated_at = p_now
     where r.counter_id = counter.id and r.status = 'held' and r.expires_at <= p_now and r.id <> held.id
    returning r.quantity
  )
  select coalesce(sum(x.quantity), 0) into dropped from expired x;
  counter.reserved := counter.reserved - dropped - (case when held.status = 'held' then held.quantity else 0 end);

  if p_quantity > 0 then
    insert into usage_record (id, created_at, updated_at, account_id, metric, quantity, idempotency_key,
                              occurred_at, period_start)
    values (p_record_id, p_now, p_now, p_account_id, held.metric, p_quantity, 'reservation:' || held.id, p_now,
            counter.period_start)
    -- no conflict target
    ;
    counter.used := counter.used + p_quantity;
    counter.peak := counter.peak + p_quantity;
    counter.revision := counter.revision + 1;
  end if;
  update usage_reservation set status = 'committed', committed_quantity = p_quantity, updated_at = p_now
   where id = held.id;
  update usage_counter set used = counter.used, peak = counter.peak, reserved = counter.reserved,
         revision = counter.revision, updated_at = p_now
   where id = counter.id;
  return query select 'committed'::varchar, counter.id, counter.metric, counter.used, counter.peak,
    counter.reserved, counter.included, counter.over_limit, counter.threshold_notified, counter.revision,
    counter.period_start, counter.period_end;
end $$;`;
