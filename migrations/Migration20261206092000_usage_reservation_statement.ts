import { Migration } from '@mikro-orm/migrations';
import { COMMIT_GROUP, RESERVE_GROUP } from './Migration20261206023000_usage_group_commit';

/**
 * Reservations decided in one statement per group (issue 14, ADR 0019), as `usage_record_group` decides records:
 * `usage_reserve_group` and `usage_commit_group` keep their signatures and answers, but no longer run ADR 0016's
 * single function once per request (six to seven statements each, about 150 µs of PostgreSQL CPU). Each locks
 * the group's counters in one statement, drops their expired holds in one, decides every request in arrival
 * order against the locked figures in PL/pgSQL arrays, and writes the holds, records, reservations and counters
 * in one statement each.
 *
 * The answers and the rows left behind are those of the previous group functions, figure for figure, including
 * when a request sees a counter's expired holds dropped (at the first request that changes the counter, as
 * `usage_reserve`/`usage_commit` drop them) and what a retried key or commit answers; a fast-check property
 * (`test/integration/usage-reservation-statement.test.ts`) runs random groups through both and compares.
 *
 * Some reserve groups still go request by request through `usage_reserve` inside the same call (the previous
 * behaviour, exactly): an idempotency key sent twice in one group (whether the second is a duplicate depends on
 * whether the first was refused), a hold that has expired before its group runs (a clock jump; the next request on
 * its counter would drop it), and a group of one (cheaper so: the single function's plans are smaller to start); a
 * commit group of one calls `usage_commit`. Threshold mails of commits are queued after the commit, as before
 * (`reservation-groups.ts`).
 *
 * Every statement reads by index and is planned once per connection, whatever the tables' statistics were when
 * it was: the functions run with `enable_seqscan = off` and `plan_cache_mode = force_generic_plan`, and look each
 * request's row up on its own (a lateral lookup, `= any(array)`), never by joining a set estimated at some size.
 * They touch rows only by key (holds by id, by (account, key), by (counter, status); counters by id or (account,
 * metric, period start)), so an index is always the right access. Measured 2026-12-06 on 20,000 holds: the
 * previous commit group's lock statement joined the JSON of the requests (estimated at 100 rows) to
 * `usage_reservation` by a hash join over the whole table, 3–50 ms per group; planning each call instead
 * (EXECUTE, as `usage_record_group` does) cost 0.1–0.3 ms per statement on a loaded machine, more than most of the
 * statements themselves. For the same reason a group runs few statements: the checks are folded into the first,
 * and the writes and the answers are one. Locks are taken as before: the counters in (account, metric, period
 * start) byte order.
 */
export class Migration20261206092000_usage_reservation_statement extends Migration {
  override async up(): Promise<void> {
    this.addSql(RESERVE_GROUP_STATEMENT);
    this.addSql(COMMIT_GROUP_STATEMENT);
  }

  override async down(): Promise<void> {
    this.addSql(RESERVE_GROUP);
    this.addSql(COMMIT_GROUP);
  }
}

/**
 * `p_requests`: the reserves (`item` numbers each; its row answers it). Decided in the counters' lock order, then
 * by `item`, as `usage_reserve_group` always has (so a key's duplicate answers with what it did then).
 */
const RESERVE_GROUP_STATEMENT = `
create or replace function usage_reserve_group(p_requests jsonb, p_now timestamptz)
returns table (
  item int, outcome varchar, reservation_id uuid, expires_at timestamptz, used bigint, reserved bigint,
  included bigint, period_start timestamptz, period_end timestamptz
) language plpgsql
set enable_seqscan = off set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  -- The requests in the order they are decided, and the reservation each one's key made before (if any).
  q_item int[]; q_id uuid[]; q_account varchar[]; q_metric varchar[]; q_period_start timestamptz[];
  q_period_end timestamptz[]; q_included bigint[]; q_over_limit varchar[]; q_quantity bigint[];
  q_expires_at timestamptz[]; q_key varchar[]; q_slot int[]; q_held boolean[];
  e_id uuid[]; e_expires_at timestamptz[]; e_counter uuid[];
  -- The counters the new holds go on, locked, by slot (1, 2, … in the lock order).
  c_id uuid[]; c_used bigint[]; c_reserved bigint[]; c_included bigint[]; c_period_start timestamptz[];
  c_period_end timestamptz[]; c_dropped bigint[]; c_decided boolean[]; c_held boolean[];
  -- Each request's duplicate answers with its earlier hold's counter (as read by usage_reserve: not locked).
  x_used bigint[]; x_reserved bigint[]; x_included bigint[]; x_period_start timestamptz[];
  x_period_end timestamptz[];
  o_outcome varchar[]; o_id uuid[]; o_expires_at timestamptz[]; o_used bigint[]; o_reserved bigint[];
  o_included bigint[]; o_period_start timestamptz[]; o_period_end timestamptz[];
  has_keys boolean; has_repeats boolean; has_stale boolean; any_reserved boolean;
  n int; i int; s int := 0; t int; last int := 0;
  r record;
begin
  -- The requests, sorted (no table is read: planned once per connection).
  select array_agg(x.item order by x.o), array_agg(x.reservation_id order by x.o),
         array_agg(x.account_id order by x.o), array_agg(x.metric order by x.o),
         array_agg(x.period_start order by x.o), array_agg(x.period_end order by x.o),
         array_agg(x.included order by x.o), array_agg(x.over_limit order by x.o),
         array_agg(x.quantity order by x.o), array_agg(x.expires_at order by x.o),
         array_agg(x.idempotency_key order by x.o), bool_or(x.idempotency_key is not null),
         -- A false repeat (a space in an account id) only sends the group the request-by-request way.
         count(x.idempotency_key) > count(distinct x.account_id || ' ' || x.idempotency_key),
         bool_or(x.expires_at <= p_now)
    into q_item, q_id, q_account, q_metric, q_period_start, q_period_end, q_included, q_over_limit, q_quantity,
         q_expires_at, q_key, has_keys, has_repeats, has_stale
    from (select r.*, row_number() over (order by r.account_id collate "C", r.metric collate "C", r.period_start,
                                                   r.item) as o
            from jsonb_to_recordset(p_requests) as r(
              item int, reservation_id uuid, account_id varchar, metric varchar, period_start timestamptz,
              period_end timestamptz, included bigint, over_limit varchar, quantity bigint, expires_at timestamptz,
              idempotency_key varchar)) x;
  n := coalesce(cardinality(q_item), 0);
  if n = 0 then return; end if;

  -- The holds the requests' keys made before.
  if has_keys and not has_repeats then
    select array_agg(e.id order by k.o), array_agg(e.expires_at order by k.o), array_agg(e.counter_id order by k.o)
      into e_id, e_expires_at, e_counter
      from unnest(q_account, q_key) with ordinality as k(account_id, idempotency_key, o)
      left join lateral (
        select e.id, e.expires_at, e.counter_id from usage_reservation e
         where e.account_id = k.account_id and e.idempotency_key = k.idempotency_key limit 1
      ) e on true;
  else
    e_id := array_fill(null::uuid, array[n]);
    e_expires_at := array_fill(null::timestamptz, array[n]);
    e_counter := e_id;
  end if;

  -- A group of one is cheaper through the single function (its plans are smaller to start), and the same.
  if has_repeats or has_stale or n = 1 then
    for r in
      select * from jsonb_to_recordset(p_requests) as x(
        item int, reservation_id uuid, account_id varchar, metric varchar, period_start timestamptz,
        period_end timestamptz, included bigint, over_limit varchar, quantity bigint, expires_at timestamptz,
        idempotency_key varchar)
      order by x.account_id collate "C", x.metric collate "C", x.period_start, x.item
    loop
      return query select r.item, g.* from usage_reserve(r.reservation_id, r.account_id, r.metric,
        r.period_start, r.period_end, r.included, r.over_limit, r.quantity, r.expires_at, p_now,
        r.idempotency_key) g;
    end loop;
    return;
  end if;

  -- The counters of the requests that are not duplicates, made with the first such request's allowance, locked
  -- in the lock order. Once billable, a period's overage stays so (see usage-ledger.ts).
  with wanted as (
    select w.account_id, w.metric, w.period_start, min(w.o) as first,
           (array_agg(w.period_end order by w.o))[1] as period_end,
           (array_agg(w.included order by w.o))[1] as included,
           case when bool_or(w.over_limit = 'bill_overage') then 'bill_overage'
                else (array_agg(w.over_limit order by w.o))[1] end as over_limit
      from unnest(q_account, q_metric, q_period_start, q_period_end, q_included, q_over_limit, e_id)
        with ordinality as w(account_id, metric, period_start, period_end, included, over_limit, earlier, o)
     where w.earlier is null
     group by w.account_id, w.metric, w.period_start
  ),
  locked as (
    insert into usage_counter as c (id, created_at, updated_at, account_id, metric, period_start, period_end,
                                    included, plan_included, over_limit)
    select gen_random_uuid(), p_now, p_now, w.account_id, w.metric, w.period_start, w.period_end, w.included,
           w.included, w.over_limit
      from wanted w order by w.first
    on conflict (account_id, metric, period_start) do update
      set over_limit = case when excluded.over_limit = 'bill_overage' then excluded.over_limit
                            else c.over_limit end
    returning c.id, c.account_id, c.metric, c.period_start, c.period_end, c.used, c.reserved, c.included
  )
  select array_agg(l.id order by w.first), array_agg(l.used order by w.first),
         array_agg(l.reserved order by w.first), array_agg(l.included order by w.first),
         array_agg(l.period_start order by w.first), array_agg(l.period_end order by w.first),
         bool_or(l.reserved > 0)
    into c_id, c_used, c_reserved, c_included, c_period_start, c_period_end, any_reserved
    from locked l
    join wanted w on w.account_id = l.account_id and w.metric = l.metric and w.period_start = l.period_start;
  c_decided := array_fill(false, array[coalesce(cardinality(c_id), 0)]);
  c_held := c_decided;
  c_dropped := array_fill(0::bigint, array[coalesce(cardinality(c_id), 0)]);

  -- Expired holds of the locked counters, dropped under their locks; each counter's figures lose them when its
  -- first request is decided, as usage_reserve drops them then.
  if any_reserved then
    with expired as (
      update usage_reservation h set status = 'expired', updated_at = p_now
       where h.counter_id = any(c_id) and h.status = 'held' and h.expires_at <= p_now
      returning h.counter_id, h.quantity
    )
    select array_agg(coalesce((select sum(e.quantity) from expired e where e.counter_id = c.id), 0) order by c.slot)
      into c_dropped
      from unnest(c_id) with ordinality as c(id, slot);
  end if;

  if has_keys and exists (select 1 from unnest(e_counter) as e(counter_id) where e.counter_id is not null) then
    select array_agg(c.used order by e.o), array_agg(c.reserved order by e.o), array_agg(c.included order by e.o),
           array_agg(c.period_start order by e.o), array_agg(c.period_end order by e.o)
      into x_used, x_reserved, x_included, x_period_start, x_period_end
      from unnest(e_counter) with ordinality as e(counter_id, o)
      left join lateral (select c.* from usage_counter c where c.id = e.counter_id limit 1) c on true;
  end if;

  q_slot := array_fill(null::int, array[n]); q_held := array_fill(false, array[n]);
  o_outcome := array_fill(null::varchar, array[n]); o_id := array_fill(null::uuid, array[n]);
  o_expires_at := array_fill(null::timestamptz, array[n]); o_used := array_fill(null::bigint, array[n]);
  o_reserved := o_used; o_included := o_used;
  o_period_start := o_expires_at; o_period_end := o_expires_at;
  for i in 1 .. n loop
    if e_id[i] is not null then
      -- usage_reserve: the earlier hold, with its counter as it is now (this call's changes to it included).
      o_outcome[i] := 'duplicate'; o_id[i] := e_id[i]; o_expires_at[i] := e_expires_at[i];
      t := array_position(c_id, e_counter[i]);
      if t is null then
        o_used[i] := x_used[i]; o_reserved[i] := x_reserved[i]; o_included[i] := x_included[i];
        o_period_start[i] := x_period_start[i]; o_period_end[i] := x_period_end[i];
      else
        o_used[i] := c_used[t]; o_reserved[i] := c_reserved[t]; o_included[i] := c_included[t];
        o_period_start[i] := c_period_start[t]; o_period_end[i] := c_period_end[t];
      end if;
      continue;
    end if;
    -- The requests come sorted by counter: a new counter starts the next slot.
    if last = 0 or q_account[i] <> q_account[last] or q_metric[i] <> q_metric[last]
       or q_period_start[i] <> q_period_start[last] then
      s := s + 1;
    end if;
    last := i;
    q_slot[i] := s;
    if not c_decided[s] then
      c_reserved[s] := c_reserved[s] - c_dropped[s];
      c_decided[s] := true;
    end if;
    if q_over_limit[i] = 'block' and c_included[s] is not null
       and c_used[s] + c_reserved[s] + q_quantity[i] > c_included[s] then
      o_outcome[i] := 'limit';
    else
      c_reserved[s] := c_reserved[s] + q_quantity[i];
      c_held[s] := true;
      q_held[i] := true;
      o_outcome[i] := 'held'; o_id[i] := q_id[i]; o_expires_at[i] := q_expires_at[i];
    end if;
    o_used[i] := c_used[s]; o_reserved[i] := c_reserved[s]; o_included[i] := c_included[s];
    o_period_start[i] := c_period_start[s]; o_period_end[i] := c_period_end[s];
  end loop;

  -- The holds and the counters written, and the answers, in one statement (data-modifying WITHs always run).
  return query
    with holds as (
      insert into usage_reservation (id, created_at, updated_at, account_id, counter_id, metric, quantity, status,
                                     expires_at, idempotency_key)
      select h.id, p_now, p_now, h.account_id, c_id[h.slot], h.metric, h.quantity, 'held', h.expires_at,
             h.idempotency_key
        from unnest(q_id, q_account, q_slot, q_metric, q_quantity, q_expires_at, q_key, q_held)
          as h(id, account_id, slot, metric, quantity, expires_at, idempotency_key, held)
       where h.held
    ),
    -- As usage_reserve: a counter that took a hold is touched; one that only lost expired holds is not.
    counters as (
      update usage_counter c
         set reserved = v.reserved, updated_at = case when v.held then p_now else c.updated_at end
        from unnest(c_id, c_reserved, c_held, c_dropped) as v(id, reserved, held, dropped)
       where c.id = any(c_id) and c.id = v.id and (v.held or v.dropped > 0)
    )
    select o.*
      from unnest(q_item, o_outcome, o_id, o_expires_at, o_used, o_reserved, o_included, o_period_start,
                  o_period_end) as o;
end $$;`;

/**
 * `p_requests`: the commits (`item` numbers each; its row answers it), decided in `item` order. A reservation
 * named twice is committed by the first and answered `duplicate` to the second, as before.
 */
const COMMIT_GROUP_STATEMENT = `
create or replace function usage_commit_group(p_requests jsonb, p_now timestamptz)
returns table (
  item int, outcome varchar, counter_id uuid, metric varchar, used bigint, peak bigint, reserved bigint,
  included bigint, over_limit varchar, threshold_notified smallint, revision bigint, period_start timestamptz,
  period_end timestamptz
) language plpgsql
set enable_seqscan = off set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  -- The counters the named reservations hold on, locked, by slot (1, 2, … in the lock order).
  c_id uuid[]; c_metric varchar[]; c_used bigint[]; c_peak bigint[]; c_reserved bigint[]; c_included bigint[];
  c_over_limit varchar[]; c_threshold smallint[]; c_revision bigint[]; c_period_start timestamptz[];
  c_period_end timestamptz[]; c_dropped bigint[]; c_decided boolean[]; c_first int[];
  -- The requests in item order with their reservation as read under the locks (null: unknown). A reservation's
  -- status is kept at its first request (q_first), where a later request naming it reads it.
  q_item int[]; q_requested uuid[]; q_account varchar[]; q_quantity bigint[]; q_record_id uuid[];
  q_reservation uuid[]; q_status varchar[]; q_held bigint[]; q_metric varchar[]; q_expires_at timestamptz[];
  q_slot int[]; q_first int[]; q_acted boolean[];
  -- Each answer: its outcome and its counter's figures right after it (null for an unknown reservation).
  o_outcome varchar[]; o_used bigint[]; o_peak bigint[]; o_reserved bigint[]; o_revision bigint[];
  holding uuid[] := '{}';
  n int; i int; s int; f int; slots int;
begin
  -- The requests in item order (no table is read: planned once per connection).
  select array_agg(x.item order by x.item), array_agg(x.reservation_id order by x.item),
         array_agg(x.account_id order by x.item), array_agg(x.quantity order by x.item),
         array_agg(x.record_id order by x.item)
    into q_item, q_requested, q_account, q_quantity, q_record_id
    from jsonb_to_recordset(p_requests)
      as x(item int, reservation_id uuid, account_id varchar, quantity bigint, record_id uuid);
  n := coalesce(cardinality(q_item), 0);
  if n = 0 then return; end if;
  -- A commit of one is cheaper through the single function (its plans are smaller to start), and the same: it
  -- locks the one counter itself.
  if n = 1 then
    return query select q_item[1], g.* from usage_commit(q_requested[1], q_account[1], q_quantity[1], p_now,
                                                         q_record_id[1]) g;
    return;
  end if;

  -- The counters the reservations hold on, locked in the lock order.
  select array_agg(c.id order by c.account_id collate "C", c.metric collate "C", c.period_start),
         array_agg(c.metric order by c.account_id collate "C", c.metric collate "C", c.period_start),
         array_agg(c.used order by c.account_id collate "C", c.metric collate "C", c.period_start),
         array_agg(c.peak order by c.account_id collate "C", c.metric collate "C", c.period_start),
         array_agg(c.reserved order by c.account_id collate "C", c.metric collate "C", c.period_start),
         array_agg(c.included order by c.account_id collate "C", c.metric collate "C", c.period_start),
         array_agg(c.over_limit order by c.account_id collate "C", c.metric collate "C", c.period_start),
         array_agg(c.threshold_notified order by c.account_id collate "C", c.metric collate "C", c.period_start),
         array_agg(c.revision order by c.account_id collate "C", c.metric collate "C", c.period_start),
         array_agg(c.period_start order by c.account_id collate "C", c.metric collate "C", c.period_start),
         array_agg(c.period_end order by c.account_id collate "C", c.metric collate "C", c.period_start)
    into c_id, c_metric, c_used, c_peak, c_reserved, c_included, c_over_limit, c_threshold, c_revision,
         c_period_start, c_period_end
    from (select c.* from usage_counter c
           where c.id = any(array(
             select h.counter_id from unnest(q_requested, q_account) as x(id, account_id)
               join lateral (select h.counter_id from usage_reservation h
                              where h.id = x.id and h.account_id = x.account_id limit 1) h on true))
           order by c.account_id collate "C", c.metric collate "C", c.period_start
           for update of c) c;

  -- The reservations read again under the locks (a concurrent commit or release may have won); one whose counter
  -- is not locked did not exist when the locks were taken, and is unknown as it was then.
  select array_agg(z.held_id order by z.o), array_agg(z.status order by z.o), array_agg(z.held_quantity order by z.o),
         array_agg(z.held_metric order by z.o), array_agg(z.held_expires_at order by z.o),
         array_agg(z.slot order by z.o), array_agg(z.first order by z.o)
    into q_reservation, q_status, q_held, q_metric, q_expires_at, q_slot, q_first
    from (select y.*, case when y.held_id is null then null
                           else first_value(y.o) over (partition by y.held_id order by y.o) end as first
            from (select x.o::int as o, h.id as held_id, h.status, h.quantity as held_quantity,
                         h.metric as held_metric, h.expires_at as held_expires_at,
                         array_position(c_id, h.counter_id) as slot
                    from unnest(q_requested, q_account) with ordinality as x(id, account_id, o)
                    left join lateral (
                      select h.* from usage_reservation h
                       where h.id = x.id and h.account_id = x.account_id and h.counter_id = any(c_id) limit 1
                    ) h on true) y) z;
  slots := coalesce(cardinality(c_id), 0);

  c_decided := array_fill(false, array[slots]);
  c_dropped := array_fill(0::bigint, array[slots]);
  c_first := array_fill(null::int, array[slots]);
  q_acted := array_fill(false, array[n]);
  o_outcome := array_fill(null::varchar, array[n]); o_used := array_fill(null::bigint, array[n]);
  o_peak := o_used; o_reserved := o_used; o_revision := o_used;

  -- usage_commit drops a counter's expired holds at the first commit on it, all but the one it commits: those
  -- of this call committed later are then committed as expired (their hold no longer counted in \`reserved\`).
  for i in 1 .. n loop
    s := q_slot[i];
    continue when s is null or q_first[i] <> i or q_status[i] not in ('held', 'expired');
    if c_first[s] is null then
      c_first[s] := i;
      if c_reserved[s] > 0 then holding := holding || c_id[s]; end if;
    elsif q_status[i] = 'held' and q_expires_at[i] <= p_now then
      q_status[i] := 'expired';
      c_dropped[s] := c_dropped[s] + q_held[i];
    end if;
  end loop;
  if cardinality(holding) > 0 then
    with expired as (
      update usage_reservation h set status = 'expired', updated_at = p_now
       where h.counter_id = any(holding) and h.status = 'held' and h.expires_at <= p_now
         and h.id <> all(array(select r.id from unnest(q_reservation) as r(id) where r.id is not null))
      returning h.counter_id, h.quantity
    )
    select array_agg(d.dropped + coalesce((select sum(e.quantity) from expired e where e.counter_id = d.id), 0)
                     order by d.slot)
      into c_dropped
      from unnest(c_id, c_dropped) with ordinality as d(id, dropped, slot);
  end if;

  for i in 1 .. n loop
    s := q_slot[i];
    if s is null then
      o_outcome[i] := 'unknown';
      continue;
    end if;
    f := q_first[i];
    if q_status[f] in ('committed', 'released') then
      o_outcome[i] := case when q_status[f] = 'committed' then 'duplicate' else 'released' end;
    else
      if not c_decided[s] then
        c_reserved[s] := c_reserved[s] - c_dropped[s];
        c_decided[s] := true;
      end if;
      if q_status[f] = 'held' then c_reserved[s] := c_reserved[s] - q_held[f]; end if;
      if q_quantity[i] > 0 then
        c_used[s] := c_used[s] + q_quantity[i];
        c_peak[s] := c_peak[s] + q_quantity[i];
        c_revision[s] := c_revision[s] + 1;
      end if;
      q_status[f] := 'committed';
      q_acted[i] := true;
      o_outcome[i] := 'committed';
    end if;
    o_used[i] := c_used[s]; o_peak[i] := c_peak[s]; o_reserved[i] := c_reserved[s];
    o_revision[i] := c_revision[s];
  end loop;

  -- The records, reservations and counters written, and the answers, in one statement (data-modifying WITHs
  -- always run).
  return query
    with records as (
      insert into usage_record (id, created_at, updated_at, account_id, metric, quantity, idempotency_key,
                                occurred_at, period_start)
      select h.record_id, p_now, p_now, h.account_id, h.metric, h.quantity, 'reservation:' || h.reservation_id,
             p_now, c_period_start[h.slot]
        from unnest(q_record_id, q_account, q_metric, q_quantity, q_reservation, q_slot, q_acted)
          as h(record_id, account_id, metric, quantity, reservation_id, slot, acted)
       where h.acted and h.quantity > 0
    ),
    reservations as (
      update usage_reservation h
         set status = 'committed', committed_quantity = v.quantity, updated_at = p_now
        from unnest(q_reservation, q_quantity, q_acted) as v(id, quantity, acted)
       where h.id = any(q_reservation) and h.id = v.id and v.acted
    ),
    -- Each counter a commit changed, once, with its figures after the call's last commit on it.
    counters as (
      update usage_counter c
         set used = v.used, peak = v.peak, reserved = v.reserved, revision = v.revision, updated_at = p_now
        from unnest(c_id, c_used, c_peak, c_reserved, c_revision, c_decided)
          as v(id, used, peak, reserved, revision, changed)
       where c.id = any(c_id) and c.id = v.id and v.changed
    )
    select q_item[a.i], o_outcome[a.i], c_id[q_slot[a.i]], c_metric[q_slot[a.i]], o_used[a.i],
      o_peak[a.i], o_reserved[a.i], c_included[q_slot[a.i]], c_over_limit[q_slot[a.i]],
      c_threshold[q_slot[a.i]], o_revision[a.i], c_period_start[q_slot[a.i]], c_period_end[q_slot[a.i]]
    from generate_series(1, n) as a(i);
end $$;`;
