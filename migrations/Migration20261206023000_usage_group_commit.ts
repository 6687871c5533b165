import { Migration } from '@mikro-orm/migrations';

/**
 * Group commit of reservations (issue 14, ADR 0019): concurrent reserves, commits and releases of one instance go
 * to PostgreSQL as one statement per group, one transaction and one fsync for all of them, each answered by its
 * own row. Each group function runs the single function of ADR 0016 (`usage_reserve`, `usage_commit`,
 * `usage_release`) once per request, in order, inside its one statement: a PL/pgSQL function's statements each
 * see what the ones before them did, so the second hold on a counter is checked against the first, and the hard
 * limit stays exact. The single functions stay (an instance of the previous version calls them during a
 * rollout), and what a reservation does is still written in one place: a change to `usage_commit` (how it
 * inserts its usage record) is a change to the groups too.
 *
 * Locks are taken in one order, the counters' (account, metric, period start) in byte order, the order the
 * usage ledger sorts its counters in: groups of any kind, from any instance, cannot deadlock each other.
 */
export class Migration20261206023000_usage_group_commit extends Migration {
  override async up(): Promise<void> {
    this.addSql(RESERVE_GROUP);
    this.addSql(COMMIT_GROUP);
    this.addSql(RELEASE_GROUP);
  }

  override async down(): Promise<void> {
    this.addSql('drop function if exists usage_reserve_group;');
    this.addSql('drop function if exists usage_commit_group;');
    this.addSql('drop function if exists usage_release_group;');
  }
}

/**
 * Reserves for every request of `p_requests` (a JSON array; `item` numbers each request and comes back on its
 * row), in the counters' lock order, then by `item` (arrival order) on one counter.
 */
export const RESERVE_GROUP = `
create or replace function usage_reserve_group(p_requests jsonb, p_now timestamptz)
returns table (
  item int, outcome varchar, reservation_id uuid, expires_at timestamptz, used bigint, reserved bigint,
  included bigint, period_start timestamptz, period_end timestamptz
) language plpgsql as $$
#variable_conflict use_column
declare
  r record;
begin
  for r in
    select * from jsonb_to_recordset(p_requests) as x(
      item int, reservation_id uuid, account_id varchar, metric varchar, period_start timestamptz,
      period_end timestamptz, included bigint, over_limit varchar, quantity bigint, expires_at timestamptz,
      idempotency_key varchar)
    order by x.account_id collate "C", x.metric collate "C", x.period_start, x.item
  loop
    return query select r.item, g.* from usage_reserve(r.reservation_id, r.account_id, r.metric, r.period_start,
      r.period_end, r.included, r.over_limit, r.quantity, r.expires_at, p_now, r.idempotency_key) g;
  end loop;
end $$;`;

/**
 * Commits every request of `p_requests`: first locks every counter the reservations hold on, in the lock order,
 * then commits each in arrival order (`usage_commit` locks its counter again, which it already holds).
 */
export const COMMIT_GROUP = `
create or replace function usage_commit_group(p_requests jsonb, p_now timestamptz)
returns table (
  item int, outcome varchar, counter_id uuid, metric varchar, used bigint, peak bigint, reserved bigint,
  included bigint, over_limit varchar, threshold_notified smallint, revision bigint, period_start timestamptz,
  period_end timestamptz
) language plpgsql as $$
#variable_conflict use_column
declare
  r record;
begin
  perform 1 from usage_counter c
   where c.id in (select h.counter_id from usage_reservation h
                    join jsonb_to_recordset(p_requests) as x(reservation_id uuid, account_id varchar)
                      on h.id = x.reservation_id and h.account_id = x.account_id)
   order by c.account_id collate "C", c.metric collate "C", c.period_start
   for update of c;
  for r in
    select * from jsonb_to_recordset(p_requests)
      as x(item int, reservation_id uuid, account_id varchar, quantity bigint, record_id uuid)
    order by x.item
  loop
    return query select r.item, g.* from usage_commit(r.reservation_id, r.account_id, r.quantity, p_now,
      r.record_id) g;
  end loop;
end $$;`;

/** Releases every request of `p_requests`, the counters locked first in the lock order (as commits do). */
const RELEASE_GROUP = `
create or replace function usage_release_group(p_requests jsonb, p_now timestamptz)
returns table (item int, outcome varchar) language plpgsql as $$
#variable_conflict use_column
declare
  r record;
begin
  perform 1 from usage_counter c
   where c.id in (select h.counter_id from usage_reservation h
                    join jsonb_to_recordset(p_requests) as x(reservation_id uuid, account_id varchar)
                      on h.id = x.reservation_id and h.account_id = x.account_id)
   order by c.account_id collate "C", c.metric collate "C", c.period_start
   for update of c;
  for r in
    select * from jsonb_to_recordset(p_requests) as x(item int, reservation_id uuid, account_id varchar)
    order by x.item
  loop
    return query select r.item, usage_release(r.reservation_id, r.account_id, p_now);
  end loop;
end $$;`;
