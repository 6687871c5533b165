import { Migration } from '@mikro-orm/migrations';

/**
 * Recording usage in one statement (issue 14, ADR 0019): `usage_record_group` does in PostgreSQL what a group of
 * single records or a `recordUsageBatch` did in four round trips (BEGIN, the lock statement, the save statement,
 * COMMIT) with the decision in between made by `decide()` in `usage-recording.ts`. As one function call it is
 * one round trip and one implicit transaction: it locks the counters (creating the missing ones), drops expired
 * holds, looks the idempotency keys up, decides each record in arrival order against the locked figures exactly
 * as `decide()`/`apply()` do, inserts the accepted records and their keys and saves the counters.
 *
 * Two cases it leaves to the transactional path by raising (which rolls the whole statement back, nothing
 * written): a counter crossing a threshold the account must be mailed about (`UB001`: the mail is rendered and
 * queued by the application in the same transaction, twice per counter and period), and a key another
 * transaction claimed since the lookup (`UB002`, the key race: run again, it then answers `duplicate`).
 *
 * The locks are taken as the usage ledger takes them: counters in the order given (the caller sorts them by
 * account, metric and period start in byte order), so this function, the ledger's statements and the
 * reservation groups never deadlock each other.
 */
export class Migration20261206051000_usage_record_statement extends Migration {
  override async up(): Promise<void> {
    this.addSql(RECORD_GROUP);
  }

  override async down(): Promise<void> {
    this.addSql('drop function if exists usage_record_group;');
  }
}

/**
 * `p_counters`: the counters to lock, sorted, each with its `slot` (1, 2, …). `p_records`: the records in
 * arrival order, each with its `item` (0, 1, …), its counter's `slot`, what its allowance says (`kind`,
 * `enabled`, `over_limit`, `late`) and `prev`, the item before it in this call with the same account and key
 * (null if none). `p_all_or_none`: the first refusal ends the call and nothing is recorded (a batch); else each
 * record is answered on its own (a group of single records).
 *
 * Returns one row per record (`item`, `outcome`: recorded, duplicate, conflict, limit, not_available; the
 * counter's figures after it, or for a refusal the figures it was refused at, and for a conflict what the key
 * was used for), then one row per saved counter (`item` null, `counter` its row as JSON).
 */
const RECORD_GROUP = `
create or replace function usage_record_group(
  p_counters jsonb, p_records jsonb, p_now timestamptz, p_all_or_none boolean)
returns table (
  item int, outcome varchar, used bigint, peak bigint, reserved bigint, included bigint,
  earlier_metric varchar, earlier_quantity bigint, counter json
) language plpgsql as $$
#variable_conflict use_column
declare
  c_id uuid[]; c_used bigint[]; c_peak bigint[]; c_level_at timestamptz[]; c_included bigint[];
  c_over_limit varchar[]; c_reserved bigint[]; c_dropped boolean[]; c_threshold smallint[];
  c_changed boolean[];
  -- What each item's key was used for once the item was decided (null: not used yet).
  k_metric varchar[]; k_quantity bigint[];
  accepted int[] := '{}';
  -- The answers, by item + 1, returned together at the end (one RETURN QUERY per record costs an executor each).
  o_item int[] := '{}'; o_outcome varchar[] := '{}'; o_used bigint[] := '{}'; o_peak bigint[] := '{}';
  o_reserved bigint[] := '{}'; o_included bigint[] := '{}'; o_metric varchar[] := '{}';
  o_quantity bigint[] := '{}';
  n int := 0;
  r record;
  s int;
  e_metric varchar; e_quantity bigint;
  n_used bigint; n_peak bigint; n_level_at timestamptz; limit_passed boolean; refused varchar;
  crossed int;
  n_inserted int;
  held_dropped bigint[];
begin
  with wanted as (
    select * from jsonb_to_recordset(p_counters)
      as w(slot int, id uuid, account_id varchar, metric varchar, period_start timestamptz,
           period_end timestamptz, included bigint, over_limit varchar, kind varchar)
  ),
  locked as (
    insert into usage_counter (id, created_at, updated_at, account_id, metric, period_start, period_end, included,
                               plan_included, over_limit, used, peak, level_at)
    select w.id, p_now, p_now, w.account_id, w.metric, w.period_start, w.period_end, w.included, w.included,
           w.over_limit, coalesce(previous.used, 0), coalesce(previous.used, 0), previous.level_at
    from wanted w
    left join lateral (
      select p.used, p.level_at from usage_counter p
      where w.kind = 'gauge' and p.account_id = w.account_id and p.metric = w.metric
        and p.period_start < w.period_start
      order by p.period_start desc limit 1
    ) previous on true
    -- The rows keep the array's order: they are locked in the sorted order.
    on conflict (account_id, metric, period_start) do update
      -- Once a period's overage was billable it stays so (as in the usage ledger's lock statement).
      set over_limit = case when excluded.over_limit = 'bill_overage' then excluded.over_limit
                            else usage_counter.over_limit end
    returning id, account_id, metric, period_start, used, peak, level_at, included, over_limit, reserved,
              threshold_notified
  )
  select array_agg(l.id order by w.slot), array_agg(l.used order by w.slot), array_agg(l.peak order by w.slot),
         array_agg(l.level_at order by w.slot), array_agg(l.included order by w.slot),
         array_agg(l.over_limit order by w.slot), array_agg(l.reserved order by w.slot),
         array_agg(false order by w.slot), array_agg(l.threshold_notified order by w.slot),
         array_agg(false order by w.slot)
    into c_id, c_used, c_peak, c_level_at, c_included, c_over_limit, c_reserved, c_dropped, c_threshold,
         c_changed
    from locked l
    join wanted w on w.account_id = l.account_id and w.metric = l.metric and w.period_start = l.period_start;

  -- Expired holds of the locked counters are dropped under the same locks. An UPDATE skips rows another
  -- transaction changed first, so each is dropped exactly once. This statement and the key lookup below read
  -- tables that grow (holds, keys): they run through EXECUTE, planned for the tables as they are now. A plan
  -- the function cached while a table was small scans it whole on every call (measured: PostgreSQL's CPU per
  -- call of 100 records grew from 3.9 to 10.9 ms over 60,000 keys).
  if exists (select 1 from unnest(c_reserved) as held where held > 0) then
    execute 'with expired as (
               update usage_reservation h set status = ''expired'', updated_at = $2
                where h.counter_id = any($1) and h.status = ''held'' and h.expires_at <= $2
               returning h.counter_id, h.quantity)
             select array_agg(coalesce((select sum(e.quantity) from expired e where e.counter_id = c.id), 0)
                              order by c.slot)
               from unnest($3::uuid[]) with ordinality as c(id, slot)'
      into held_dropped
      using (select array_agg(x.id) from unnest(c_id, c_reserved) as x(id, reserved) where x.reserved > 0),
            p_now, c_id;
    for s in 1 .. cardinality(c_id) loop
      c_reserved[s] := c_reserved[s] - held_dropped[s];
      c_dropped[s] := held_dropped[s] > 0;
    end loop;
  end if;

  execute 'select array_agg(k.metric order by x.item), array_agg(k.quantity order by x.item)
             from jsonb_to_recordset($1) as x(item int, account_id varchar, idempotency_key varchar)
             left join usage_record_key k
               on k.account_id = x.account_id and k.idempotency_key = x.idempotency_key'
    into k_metric, k_quantity using p_records;

  for r in
    select * from jsonb_to_recordset(p_records)
      as x(item int, slot int, prev int, metric varchar, quantity bigint, occurred_at timestamptz,
           kind varchar, enabled boolean, over_limit varchar, late boolean)
    order by x.item
  loop
    s := r.slot;
    -- A key used earlier in this call: what that item left it at; else what the lookup found.
    if r.prev is not null then
      k_metric[r.item + 1] := k_metric[r.prev + 1];
      k_quantity[r.item + 1] := k_quantity[r.prev + 1];
    end if;
    e_metric := k_metric[r.item + 1];
    e_quantity := k_quantity[r.item + 1];
    refused := null;
    if e_metric is not null and (e_metric <> r.metric or e_quantity <> r.quantity) then
      -- A key reused for another use is the caller's bug (see decide()).
      refused := 'conflict';
    elsif e_metric is not null then
      n := n + 1;
      o_item[n] := r.item; o_outcome[n] := 'duplicate'; o_used[n] := c_used[s]; o_peak[n] := c_peak[s];
      o_reserved[n] := c_reserved[s]; o_included[n] := c_included[s]; o_metric[n] := null; o_quantity[n] := null;
      continue;
    else
      -- apply(): a counter adds up; a gauge takes the level if it is the latest measured, its peak the highest.
      if r.kind = 'counter' then
        n_used := c_used[s] + r.quantity; n_peak := c_peak[s] + r.quantity; n_level_at := c_level_at[s];
        limit_passed := r.quantity > 0 and c_included[s] is not null
          and n_used + c_reserved[s] > c_included[s];
      else
        if c_level_at[s] is not null and r.occurred_at < c_level_at[s] then
          n_used := c_used[s]; n_level_at := c_level_at[s];
        else
          n_used := r.quantity; n_level_at := r.occurred_at;
        end if;
        n_peak := greatest(c_peak[s], r.quantity);
        limit_passed := c_included[s] is not null and r.quantity > c_included[s] and r.quantity > c_used[s];
      end if;
      if not r.enabled and r.quantity > 0 and (r.kind = 'counter' or r.quantity > c_used[s]) then
        refused := 'not_available';
      elsif limit_passed
        and (case when r.late then c_over_limit[s] else r.over_limit end) = 'block' then
        refused := 'limit';
      end if;
    end if;
    if refused is not null then
      n := n + 1;
      o_item[n] := r.item; o_outcome[n] := refused; o_used[n] := c_used[s]; o_peak[n] := c_peak[s];
      o_reserved[n] := c_reserved[s]; o_included[n] := c_included[s]; o_metric[n] := e_metric;
      o_quantity[n] := e_quantity;
      if p_all_or_none then
        -- Nothing of the call is recorded; counters whose expired holds were dropped are still saved below.
        accepted := '{}';
        c_changed := array_fill(false, array[cardinality(c_id)]);
        exit;
      end if;
      continue;
    end if;
    c_used[s] := n_used; c_peak[s] := n_peak; c_level_at[s] := n_level_at; c_changed[s] := true;
    k_metric[r.item + 1] := r.metric; k_quantity[r.item + 1] := r.quantity;
    accepted := accepted || r.item;
    n := n + 1;
    o_item[n] := r.item; o_outcome[n] := 'recorded'; o_used[n] := n_used; o_peak[n] := n_peak;
    o_reserved[n] := c_reserved[s]; o_included[n] := c_included[s]; o_metric[n] := null; o_quantity[n] := null;
  end loop;

  -- A threshold to tell (usage-thresholds.ts: 80 and 100 % of the allowance, once each per period): the
  -- application queues the mail in the recording transaction, so it takes the group.
  for s in 1 .. coalesce(cardinality(c_id), 0) loop
    continue when not c_changed[s] or c_included[s] is null or c_included[s] <= 0;
    crossed := case when c_peak[s] * 100 >= 100 * c_included[s] then 100
                    when c_peak[s] * 100 >= 80 * c_included[s] then 80 else 0 end;
    if crossed > c_threshold[s] then
      raise exception 'usage threshold % to tell', crossed using errcode = 'UB001';
    end if;
  end loop;

  -- The key is the guarantee (usage_record is partitioned by day): a key another transaction claimed since the
  -- lookup makes the count short, and the whole call is rolled back and run again.
  with new_records as (
    select * from jsonb_to_recordset(p_records)
      as x(item int, id uuid, account_id varchar, metric varchar, quantity bigint, idempotency_key varchar,
           occurred_at timestamptz, period_start timestamptz)
    where x.item = any(accepted)
  ),
  inserted as (
    insert into usage_record_key (account_id, idempotency_key, metric, quantity, created_at)
    select account_id, idempotency_key, metric, quantity, p_now from new_records
    on conflict (account_id, idempotency_key) do nothing
    returning 1
  ),
  written as (
    insert into usage_record (id, created_at, updated_at, account_id, metric, quantity, idempotency_key,
                              occurred_at, period_start)
    select id, p_now, p_now, account_id, metric, quantity, idempotency_key, occurred_at, period_start
    from new_records
  )
  select count(*) into n_inserted from inserted;
  if n_inserted <> cardinality(accepted) then
    raise exception 'an idempotency key was recorded by another transaction' using errcode = 'UB002';
  end if;

  return query select o.*, null::json
    from unnest(o_item, o_outcome, o_used, o_peak, o_reserved, o_included, o_metric, o_quantity) as o;
  return query
    with saved as (
      update usage_counter c
      set used = v.used, peak = v.peak, reserved = v.reserved, level_at = v.level_at,
          revision = c.revision + 1, updated_at = p_now
      from unnest(c_id, c_used, c_peak, c_reserved, c_level_at, c_changed, c_dropped)
        as v(id, used, peak, reserved, level_at, changed, dropped)
      where c.id = v.id and (v.changed or v.dropped)
      returning c.*
    )
    select null::int, null::varchar, null::bigint, null::bigint, null::bigint, null::bigint, null::varchar,
           null::bigint, row_to_json(saved) from saved;
end $$;`;
