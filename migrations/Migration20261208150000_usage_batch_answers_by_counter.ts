import { Migration } from '@mikro-orm/migrations';

/**
 * `recordUsageBatch` of 100 at 40,000 durable events/s (issue 14, ADR 0034's amendment of 2026-12-07 12:xx).
 *
 * `usage_record_group` gains `p_fast_by_counter` (a new signature; the previous one stays for instances of the
 * previous release during a rollout). When a call goes the fast way (every record recorded, no key looked up: the
 * previous migration), it answers with its saved counters only, not one row per record: each record's figures are
 * its counter's before the call plus the running sum of the counter's quantities up to it, and the service works
 * them out from the saved counter (its figures after the call) and the quantities it sent. PostgreSQL no longer
 * computes the running sums (a window over the call's records) nor sends 100 rows of a batch of 100, and the
 * service no longer reads them. A call that does not go the fast way answers as before, one row per record.
 */
export class Migration20261208150000_usage_batch_answers_by_counter extends Migration {
  override async up(): Promise<void> {
    this.addSql(RECORD_GROUP_ANSWERS_BY_COUNTER);
  }

  override async down(): Promise<void> {
    this.addSql(
      'drop function if exists usage_record_group(jsonb, int[], int[], bigint[], varchar[], timestamptz[], timestamptz, boolean, boolean, boolean);',
    );
  }
}

/**
 * As `Migration20261208142300_usage_batch_unseen_keys`'s function, with `p_fast_by_counter`: true makes a call
 * that goes the fast way answer its saved counters only; false answers exactly as the previous version.
 */
const RECORD_GROUP_ANSWERS_BY_COUNTER = `
create or replace function usage_record_group(
  p_counters jsonb, p_slot int[], p_prev int[], p_quantity bigint[], p_key varchar[], p_occurred_at timestamptz[],
  p_now timestamptz, p_all_or_none boolean, p_keys_unseen boolean, p_fast_by_counter boolean)
returns table (
  item int, outcome varchar, used bigint, peak bigint, reserved bigint, included bigint,
  earlier_metric varchar, earlier_quantity bigint, counter json
) language plpgsql
set enable_seqscan = off set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  c_id uuid[]; c_used bigint[]; c_peak bigint[]; c_level_at timestamptz[]; c_included bigint[];
  c_over_limit varchar[]; c_reserved bigint[]; c_dropped boolean[]; c_threshold smallint[];
  c_changed boolean[];
  -- What every record of a counter shares: its account, metric and period, and its allowance's rule.
  c_account varchar[]; c_metric varchar[]; c_period_start timestamptz[]; c_kind varchar[]; c_enabled boolean[];
  c_rule varchar[]; c_late boolean[];
  -- What each item's key was used for once the item was decided (null: not used yet).
  k_metric varchar[]; k_quantity bigint[];
  -- By item + 1: whether the item is recorded.
  accepted boolean[];
  i int;
  q bigint;
  level_time timestamptz;
  -- The answers, by item + 1, returned together at the end (one RETURN QUERY per record costs an executor each).
  o_item int[] := '{}'; o_outcome varchar[] := '{}'; o_used bigint[] := '{}'; o_peak bigint[] := '{}';
  o_reserved bigint[] := '{}'; o_included bigint[] := '{}'; o_metric varchar[] := '{}';
  o_quantity bigint[] := '{}';
  n int := 0;
  s int;
  e_metric varchar; e_quantity bigint;
  n_used bigint; n_peak bigint; n_level_at timestamptz; limit_passed boolean; refused varchar;
  crossed int;
  held_dropped bigint[];
  -- The fast path: every record recorded, so no lookup and no decision loop (see the migration's comment).
  fast boolean;
  used_before bigint[]; peak_before bigint[]; totals bigint[]; counts bigint[];
begin
  with wanted as (
    select * from jsonb_to_recordset(p_counters)
      as w(slot int, id uuid, account_id varchar, metric varchar, period_start timestamptz,
           period_end timestamptz, included bigint, over_limit varchar, kind varchar, enabled boolean,
           rule varchar, late boolean)
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
         array_agg(false order by w.slot), array_agg(w.account_id order by w.slot),
         array_agg(w.metric order by w.slot), array_agg(w.period_start order by w.slot),
         array_agg(w.kind order by w.slot), array_agg(w.enabled order by w.slot), array_agg(w.rule order by w.slot),
         array_agg(w.late order by w.slot)
    into c_id, c_used, c_peak, c_level_at, c_included, c_over_limit, c_reserved, c_dropped, c_threshold,
         c_changed, c_account, c_metric, c_period_start, c_kind, c_enabled, c_rule, c_late
    from locked l
    join wanted w on w.account_id = l.account_id and w.metric = l.metric and w.period_start = l.period_start;

  -- Expired holds of the locked counters are dropped under the same locks. An UPDATE skips rows another
  -- transaction changed first, so each is dropped exactly once (through EXECUTE, as before: it runs only when a
  -- counter has holds).
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

  -- Nothing of this call can be refused when the caller says its keys are new (no key repeats inside it, and
  -- one recorded before makes the insert below fail, and the call run again with the lookup) and every counter
  -- adds up without a hard limit: a counter, switched on, unlimited or not blocking past its allowance (the rule
  -- of a late period as stored). Then each record is recorded, a counter's figures after a record are the
  -- running sum of its quantities, and neither the key lookup nor the per-record loop runs.
  fast := p_keys_unseen
    and not exists (select 1 from unnest(p_prev) as earlier(item) where earlier.item is not null)
    and not exists (
      select 1 from generate_subscripts(c_id, 1) as c(n)
      where c_kind[c.n] <> 'counter' or not c_enabled[c.n]
         or (c_included[c.n] is not null
             and (case when c_late[c.n] then c_over_limit[c.n] else c_rule[c.n] end) = 'block'));
  if fast then
    used_before := c_used;
    peak_before := c_peak;
    select array_agg(coalesce(t.total, 0) order by c.n), array_agg(coalesce(t.records, 0) order by c.n)
      into totals, counts
      from generate_subscripts(c_id, 1) as c(n)
      left join (
        select x.slot, sum(x.quantity)::bigint as total, count(*) as records
        from unnest(p_slot, p_quantity) as x(slot, quantity) group by x.slot
      ) t on t.slot = c.n;
    for s in 1 .. coalesce(cardinality(c_id), 0) loop
      continue when counts[s] = 0;
      c_used[s] := c_used[s] + totals[s]; c_peak[s] := c_peak[s] + totals[s]; c_changed[s] := true;
    end loop;
    accepted := array_fill(true, array[coalesce(cardinality(p_slot), 0)]);
  else
    -- Each key looked up by the primary key on its own (a lateral probe, never a join planned for some size of the
    -- table: see the migration's comment).
    select array_agg(k.metric order by x.item), array_agg(k.quantity order by x.item)
      into k_metric, k_quantity
      from unnest(p_slot, p_key) with ordinality as x(slot, idempotency_key, item)
      left join lateral (
        select k.metric, k.quantity from usage_record_key k
        where k.account_id = c_account[x.slot] and k.idempotency_key = x.idempotency_key
      ) k on true;

    accepted := array_fill(false, array[coalesce(cardinality(p_slot), 0)]);
    for i in 1 .. coalesce(cardinality(p_slot), 0) loop
      s := p_slot[i];
      q := p_quantity[i];
      -- A key used earlier in this call: what that item left it at; else what the lookup found.
      if p_prev[i] is not null then
        k_metric[i] := k_metric[p_prev[i] + 1];
        k_quantity[i] := k_quantity[p_prev[i] + 1];
      end if;
      e_metric := k_metric[i];
      e_quantity := k_quantity[i];
      refused := null;
      if e_metric is not null and (e_metric <> c_metric[s] or e_quantity <> q) then
        -- A key reused for another use is the caller's bug (see decide()).
        refused := 'conflict';
      elsif e_metric is not null then
        n := n + 1;
        o_item[n] := i - 1; o_outcome[n] := 'duplicate'; o_used[n] := c_used[s]; o_peak[n] := c_peak[s];
        o_reserved[n] := c_reserved[s]; o_included[n] := c_included[s]; o_metric[n] := null; o_quantity[n] := null;
        continue;
      else
        -- apply(): a counter adds up; a gauge takes the level if it is the latest measured, its peak the highest.
        if c_kind[s] = 'counter' then
          n_used := c_used[s] + q; n_peak := c_peak[s] + q; n_level_at := c_level_at[s];
          limit_passed := q > 0 and c_included[s] is not null and n_used + c_reserved[s] > c_included[s];
        else
          -- A level without its own time was measured now.
          level_time := coalesce(p_occurred_at[i], p_now);
          if c_level_at[s] is not null and level_time < c_level_at[s] then
            n_used := c_used[s]; n_level_at := c_level_at[s];
          else
            n_used := q; n_level_at := level_time;
          end if;
          n_peak := greatest(c_peak[s], q);
          limit_passed := c_included[s] is not null and q > c_included[s] and q > c_used[s];
        end if;
        if not c_enabled[s] and q > 0 and (c_kind[s] = 'counter' or q > c_used[s]) then
          refused := 'not_available';
        elsif limit_passed
          and (case when c_late[s] then c_over_limit[s] else c_rule[s] end) = 'block' then
          refused := 'limit';
        end if;
      end if;
      if refused is not null then
        n := n + 1;
        o_item[n] := i - 1; o_outcome[n] := refused; o_used[n] := c_used[s]; o_peak[n] := c_peak[s];
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
      k_metric[i] := c_metric[s]; k_quantity[i] := q;
      accepted[i] := true;
      n := n + 1;
      o_item[n] := i - 1; o_outcome[n] := 'recorded'; o_used[n] := n_used; o_peak[n] := n_peak;
      o_reserved[n] := c_reserved[s]; o_included[n] := c_included[s]; o_metric[n] := null; o_quantity[n] := null;
    end loop;
  end if;

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

  -- The key is the guarantee (usage_record is partitioned by day). A key another transaction claimed since the
  -- lookup fails the insert with unique_violation on usage_record_key_pkey, which rolls the whole call back; the
  -- service runs it again (usage-record-retries.ts), and then sees the key. A plain INSERT, not ON CONFLICT DO
  -- NOTHING and a count: a speculative insertion probes the index twice per row (measured: 0.35-0.55 ms of a
  -- 2.9 ms call of 100 records). A record's id is made here.
  with new_records as (
    select gen_random_uuid() as id, c_account[x.slot] as account_id, c_metric[x.slot] as metric, x.quantity,
           x.idempotency_key, coalesce(x.occurred_at, p_now) as occurred_at,
           c_period_start[x.slot] as period_start
    from unnest(p_slot, p_quantity, p_key, p_occurred_at, accepted)
      as x(slot, quantity, idempotency_key, occurred_at, accepted)
    where x.accepted
  ),
  keys as (
    insert into usage_record_key (account_id, idempotency_key, metric, quantity, created_at)
    select account_id, idempotency_key, metric, quantity, p_now from new_records
  )
  insert into usage_record (id, created_at, updated_at, account_id, metric, quantity, idempotency_key,
                            occurred_at, period_start)
  select id, p_now, p_now, account_id, metric, quantity, idempotency_key, occurred_at, period_start
  from new_records;

  -- Taken the fast way with p_fast_by_counter, the call answers no row per record: each was recorded, and its
  -- figures are its counter's before the call plus the running sum of the counter's quantities up to it, which
  -- the caller works out from the saved counters below and the quantities it sent.
  if fast and not p_fast_by_counter then
    return query
      -- sum(bigint) is numeric: cast back to the answer's bigint.
      select (x.item - 1)::int, 'recorded'::varchar, used_before[x.slot] + (sum(x.quantity) over running)::bigint,
             peak_before[x.slot] + (sum(x.quantity) over running)::bigint, c_reserved[x.slot], c_included[x.slot],
             null::varchar, null::bigint, null::json
      from unnest(p_slot, p_quantity) with ordinality as x(slot, quantity, item)
      window running as (partition by x.slot order by x.item)
      order by x.item;
  elsif not fast then
    return query select o.*, null::json
      from unnest(o_item, o_outcome, o_used, o_peak, o_reserved, o_included, o_metric, o_quantity) as o;
  end if;
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
