import { Migration } from '@mikro-orm/migrations';

/**
 * Revenue integrity (issue 12): usage reservations (a hold before the work, a commit of what was used after it),
 * the period allowance that plan changes are weighed into, one trial per card.
 *
 * The reservation functions are PL/pgSQL so that reserving and committing are one statement (one round trip,
 * no BEGIN/COMMIT) on the hot path, yet run their steps in order under the counter's row lock: inside a function
 * every statement takes a new snapshot, so what is read after the lock is what was committed before it.
 */
export class Migration20261205034840_usage_integrity extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "trial_fingerprint" ("fingerprint" varchar(64) not null, "account_id" varchar(255) not null, "created_at" timestamptz not null, constraint "trial_fingerprint_pkey" primary key ("fingerprint"));`,
    );

    this.addSql(
      `create table "usage_reservation" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "account_id" varchar(255) not null, "counter_id" uuid not null, "metric" varchar(64) not null, "quantity" bigint not null, "committed_quantity" bigint null, "status" varchar(16) not null default 'held', "expires_at" timestamptz not null, "idempotency_key" varchar(255) null, constraint "usage_reservation_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "usage_reservation_counter_id_status_index" on "usage_reservation" ("counter_id", "status");`,
    );
    this.addSql(
      `alter table "usage_reservation" add constraint "usage_reservation_account_id_idempotency_key_unique" unique ("account_id", "idempotency_key");`,
    );

    this.addSql(`alter table "entitlement" add column "provisioned_for" varchar(255) null;`);

    this.addSql(
      `alter table "usage_counter" add column "plan_included" bigint null, add column "reserved" bigint not null default 0;`,
    );
    // Until now a counter's allowance was the plan's: it is also what the rest of its period accrues at.
    this.addSql(`update "usage_counter" set "plan_included" = "included";`);

    this.addSql(RESERVE);
    this.addSql(COMMIT);
    this.addSql(RELEASE);
  }

  override async down(): Promise<void> {
    this.addSql('drop function if exists usage_reserve;');
    this.addSql('drop function if exists usage_commit;');
    this.addSql('drop function if exists usage_release;');
    this.addSql(`drop table if exists "trial_fingerprint" cascade;`);
    this.addSql(`drop table if exists "usage_reservation" cascade;`);
    this.addSql(`alter table "entitlement" drop column "provisioned_for";`);
    this.addSql(`alter table "usage_counter" drop column "plan_included", drop column "reserved";`);
  }
}

/**
 * Holds `p_quantity` of a counter's allowance: locks the counter (creating it with the plan's allowance if it is
 * new), drops its holds that have expired, and refuses (`limit`) when a hard limit would be passed by what is
 * used, what is held and this. A second call with the same idempotency key answers the first reservation.
 */
const RESERVE = `
create or replace function usage_reserve(
  p_reservation_id uuid, p_account_id varchar, p_metric varchar, p_period_start timestamptz,
  p_period_end timestamptz, p_included bigint, p_over_limit varchar, p_quantity bigint, p_expires_at timestamptz,
  p_now timestamptz, p_idempotency_key varchar
) returns table (
  outcome varchar, reservation_id uuid, expires_at timestamptz, used bigint, reserved bigint, included bigint,
  period_start timestamptz, period_end timestamptz
) language plpgsql as $$
#variable_conflict use_column
declare
  counter usage_counter%rowtype;
  earlier usage_reservation%rowtype;
  dropped bigint;
begin
  if p_idempotency_key is not null then
    select * into earlier from usage_reservation r
     where r.account_id = p_account_id and r.idempotency_key = p_idempotency_key;
    if found then
      select * into counter from usage_counter c where c.id = earlier.counter_id;
      return query select 'duplicate'::varchar, earlier.id, earlier.expires_at, counter.used, counter.reserved,
        counter.included, counter.period_start, counter.period_end;
      return;
    end if;
  end if;

  insert into usage_counter as c (id, created_at, updated_at, account_id, metric, period_start, period_end,
                                  included, plan_included, over_limit)
  values (gen_random_uuid(), p_now, p_now, p_account_id, p_metric, p_period_start, p_period_end, p_included,
          p_included, p_over_limit)
  -- The rule over the limit is sticky once billable: see usage-ledger.ts.
  on conflict (account_id, metric, period_start) do update
    set over_limit = case when excluded.over_limit = 'bill_overage' then excluded.over_limit else c.over_limit end
  returning c.* into counter;

  with expired as (
    update usage_reservation r set status = 'expired', updated_at = p_now
     where r.counter_id = counter.id and r.status = 'held' and r.expires_at <= p_now
    returning r.quantity
  )
  select coalesce(sum(x.quantity), 0) into dropped from expired x;
  counter.reserved := counter.reserved - dropped;

  if p_over_limit = 'block' and counter.included is not null
     and counter.used + counter.reserved + p_quantity > counter.included then
    if dropped > 0 then
      update usage_counter set reserved = counter.reserved where id = counter.id;
    end if;
    return query select 'limit'::varchar, null::uuid, null::timestamptz, counter.used, counter.reserved,
      counter.included, counter.period_start, counter.period_end;
    return;
  end if;

  insert into usage_reservation (id, created_at, updated_at, account_id, counter_id, metric, quantity, status,
                                 expires_at, idempotency_key)
  values (p_reservation_id, p_now, p_now, p_account_id, counter.id, p_metric, p_quantity, 'held', p_expires_at,
          p_idempotency_key);
  update usage_counter set reserved = counter.reserved + p_quantity, updated_at = p_now where id = counter.id;
  return query select 'held'::varchar, p_reservation_id, p_expires_at, counter.used,
    counter.reserved + p_quantity, counter.included, counter.period_start, counter.period_end;
end $$;`;

/**
 * Turns a reservation into a use of `p_quantity` (what the work actually used, which may differ from what was
 * held): the hold is given back and the use recorded in the same counter, exactly once (a second commit answers
 * `duplicate`). A reservation that expired is still recorded: the work was done. Nothing is checked against the
 * limit here: the reservation was the check, and refusing to count work already served would make it free.
 */
const COMMIT = `
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
    on conflict (account_id, idempotency_key) do nothing;
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

/**
 * Gives a hold back unused: answers `released` when this call released it, else `already_<status>` (committed,
 * released or expired before) or `unknown`.
 */
const RELEASE = `
create or replace function usage_release(p_reservation_id uuid, p_account_id varchar, p_now timestamptz)
returns varchar language plpgsql as $$
#variable_conflict use_column
declare
  held usage_reservation%rowtype;
  counter_reserved bigint;
begin
  select * into held from usage_reservation r where r.id = p_reservation_id and r.account_id = p_account_id;
  if not found then return 'unknown'; end if;
  select c.reserved into counter_reserved from usage_counter c where c.id = held.counter_id for update;
  select * into held from usage_reservation r where r.id = p_reservation_id;
  if held.status <> 'held' then return 'already_' || held.status; end if;
  update usage_reservation set status = 'released', updated_at = p_now where id = held.id;
  update usage_counter set reserved = reserved - held.quantity, updated_at = p_now where id = held.counter_id;
  return 'released';
end $$;`;
