import fc from 'fast-check';
import { Client, Pool } from 'pg';
import { COMMIT_GROUP, RESERVE_GROUP } from '../../migrations/Migration20261206023000_usage_group_commit';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * `usage_reserve_group` and `usage_commit_group` as one set-based statement each (ADR 0019, migration
 * `Migration20261206092000_usage_reservation_statement`) against real PostgreSQL: random sequences of reserve,
 * commit and release groups give the same answers, to the figure, and leave the same counters, holds and usage
 * records as the group functions they replace (which ran ADR 0016's single function per request), installed
 * beside them under another name. Concurrent groups, as from many instances, never hold past a limit.
 */

let database: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = new Pool({ connectionString: database.url, max: 6 });
  // An idle connection ended from outside (the shared server's other sessions) is dropped by the pool and
  // replaced; a query on a connection that fails still fails its test.
  pool.on('error', () => undefined);
  await pool.query(RESERVE_GROUP.replace('usage_reserve_group(', 'usage_reserve_group_before('));
  await pool.query(COMMIT_GROUP.replace('usage_commit_group(', 'usage_commit_group_before('));
});
afterAll(async () => {
  await pool.end();
  await database.drop();
});

let sequence = 0;
const BASE = Date.parse('2026-12-06T09:00:00Z');
const PERIODS = [
  { start: '2026-12-01T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z' },
  { start: '2027-01-01T00:00:00.000Z', end: '2027-02-01T00:00:00.000Z' },
];
const METRICS = ['ai_requests', 'tokens'];

type Side = 'shipped' | 'reference';
const RESERVE_SQL: Record<Side, string> = {
  shipped: 'select * from usage_reserve_group($1::jsonb, $2)',
  reference: 'select * from usage_reserve_group_before($1::jsonb, $2)',
};
const COMMIT_SQL: Record<Side, string> = {
  shipped: 'select * from usage_commit_group($1::jsonb, $2)',
  reference: 'select * from usage_commit_group_before($1::jsonb, $2)',
};

interface ReserveDraw {
  account: number;
  metric: number;
  period: number;
  included: number | null;
  overLimit: 'block' | 'bill_overage';
  quantity: number;
  ttl: number;
  key: number | null;
}

const reserveDraw: fc.Arbitrary<ReserveDraw> = fc.record({
  account: fc.nat({ max: 1 }),
  metric: fc.nat({ max: 1 }),
  period: fc.nat({ max: 1 }),
  included: fc.option(fc.integer({ min: 0, max: 12 }), { freq: 4 }),
  overLimit: fc.constantFrom<'block' | 'bill_overage'>('block', 'block', 'block', 'bill_overage'),
  quantity: fc.integer({ min: 1, max: 5 }),
  ttl: fc.integer({ min: 1, max: 6 }),
  key: fc.option(fc.nat({ max: 5 })),
});

/**
 * A step: `advance` seconds pass, then one group. A reserve group repeats a key within itself only when
 * `repeats` (else a repeat loses its key) and has a hold expired before it runs only when `stale`: both are the
 * cases the statement leaves to the request-by-request path, drawn often enough to cover it too.
 */
const step = fc.record({
  advance: fc.nat({ max: 4 }),
  kind: fc.constantFrom('reserve', 'reserve', 'commit', 'commit', 'release'),
  reserves: fc.array(reserveDraw, { minLength: 1, maxLength: 8 }),
  repeats: fc.integer({ min: 0, max: 3 }).map((draw) => draw === 0),
  stale: fc.integer({ min: 0, max: 5 }).map((draw) => draw === 0),
  commits: fc.array(
    fc.record({
      pick: fc.nat(),
      quantity: fc.integer({ min: 0, max: 5 }),
      otherAccount: fc.integer({ min: 0, max: 9 }).map((draw) => draw === 0),
    }),
    { minLength: 1, maxLength: 8 },
  ),
});

/** One random sequence run on two sides alike: the same draws, each side its own accounts and ids. */
class Run {
  private readonly prefix = `acct_rstmt_${++sequence}_${Date.now()}`;
  /** Each reservation drawn so far: its id on each side (the answers name it by its index here). */
  private readonly reservations: Array<Record<Side, string>> = [];
  now = BASE;

  accountOf(side: Side, account: number): string {
    return `${this.prefix}_${side}_${account === 0 ? 'a' : 'b'}`;
  }

  indexOf(id: string | null): number | null {
    if (id === null) return null;
    const index = this.reservations.findIndex((pair) => pair.shipped === id || pair.reference === id);
    if (index < 0) throw new Error(`a reservation id nobody drew: ${id}`);
    return index;
  }

  reserves(draws: ReserveDraw[], repeats: boolean, stale: boolean): Record<Side, object[]> {
    const seen = new Set<string>();
    const keyed = draws.map((draw) => {
      const seenKey = `${draw.account}:${draw.key}`;
      const repeated = draw.key !== null && seen.has(seenKey);
      seen.add(seenKey);
      return repeated && !repeats ? { ...draw, key: null } : draw;
    });
    const ids = keyed.map(() => ({ shipped: crypto.randomUUID(), reference: crypto.randomUUID() }));
    this.reservations.push(...ids);
    const requestsOf = (side: Side) =>
      keyed.map((draw, item) => {
        const period = PERIODS[draw.period] as (typeof PERIODS)[number];
        const ttl = stale && item === 0 ? 0 : draw.ttl;
        return {
          item,
          reservation_id: ids[item]?.[side],
          account_id: this.accountOf(side, draw.account),
          metric: METRICS[draw.metric],
          period_start: period.start,
          period_end: period.end,
          included: draw.included,
          over_limit: draw.overLimit,
          quantity: draw.quantity,
          expires_at: new Date(this.now + ttl * 1000).toISOString(),
          idempotency_key: draw.key === null ? null : `key-${draw.key}`,
        };
      });
    return { shipped: requestsOf('shipped'), reference: requestsOf('reference') };
  }

  /** Commits (and releases) name a reservation drawn before, sometimes with the other account (unknown). */
  commits(draws: Array<{ pick: number; quantity: number; otherAccount: boolean }>): Record<Side, object[]> {
    const requestsOf = (side: Side) =>
      draws.map((draw, item) => {
        const pair = this.reservations[draw.pick % Math.max(1, this.reservations.length)];
        return {
          item,
          reservation_id: pair?.[side] ?? crypto.randomUUID(),
          account_id: this.accountOf(side, draw.otherAccount ? 1 : 0),
          quantity: draw.quantity,
          record_id: crypto.randomUUID(),
        };
      });
    const [shipped, reference] = [requestsOf('shipped'), requestsOf('reference')];
    // Without `otherAccount`, the account the reservation was made for (found by its id on that side).
    for (const [index, draw] of draws.entries())
      if (!draw.otherAccount) {
        (shipped[index] as { account_id: string }).account_id = 'pending';
        (reference[index] as { account_id: string }).account_id = 'pending';
      }
    return { shipped, reference };
  }
}

/** Fills the account of each commit whose account is `pending` with its reservation's account (or any). */
async function withOwnAccounts(requests: object[], fallback: string): Promise<object[]> {
  const ids = requests.map((request) => (request as { reservation_id: string }).reservation_id);
  const { rows } = await pool.query<{ id: string; account_id: string }>(
    'select id, account_id from usage_reservation where id = any($1::uuid[])',
    [ids],
  );
  const owners = new Map(rows.map((row) => [row.id, row.account_id]));
  return requests.map((request) => {
    const { reservation_id, account_id } = request as { reservation_id: string; account_id: string };
    return account_id === 'pending'
      ? { ...request, account_id: owners.get(reservation_id) ?? fallback }
      : request;
  });
}

type Row = Record<string, unknown> & { item: number };

async function call(sql: string, requests: object[], now: number): Promise<Row[]> {
  const { rows } = await pool.query<Row>(sql, [JSON.stringify(requests), new Date(now)]);
  return rows.sort((left, right) => left.item - right.item);
}

/** An answer without what differs between the sides by construction: ids, accounts. */
function answerOf(run: Run, row: Row) {
  const { reservation_id, counter_id, ...figures } = row;
  return {
    ...figures,
    reservation: reservation_id === undefined ? undefined : run.indexOf(reservation_id as string | null),
    counter: counter_id === undefined ? undefined : counter_id === null ? null : 'a counter',
  };
}

/** What a side's accounts left in the tables, named by account letter and reservation index. */
async function stateOf(run: Run, side: Side) {
  const accounts = [run.accountOf(side, 0), run.accountOf(side, 1)];
  const letter = (accountId: unknown) => String(accountId).slice(-1);
  const counters = await pool.query(
    `select account_id, metric, period_start, period_end, used, peak, reserved, included, plan_included,
            over_limit, revision, threshold_notified, created_at, updated_at
       from usage_counter where account_id = any($1) order by account_id, metric, period_start`,
    [accounts],
  );
  const holds = await pool.query(
    `select h.id, h.account_id, h.metric, c.period_start, h.quantity, h.committed_quantity, h.status,
            h.expires_at, h.idempotency_key, h.created_at, h.updated_at
       from usage_reservation h join usage_counter c on c.id = h.counter_id
      where h.account_id = any($1)`,
    [accounts],
  );
  const records = await pool.query(
    `select account_id, metric, quantity, idempotency_key, occurred_at, period_start, created_at, updated_at
       from usage_record where account_id = any($1)`,
    [accounts],
  );
  const byIndex = (left: { index: number | null }, right: { index: number | null }) =>
    Number(left.index) - Number(right.index);
  return {
    counters: counters.rows.map((row) => ({ ...row, account_id: letter(row.account_id) })),
    holds: holds.rows
      .map(({ id, account_id, ...row }) => ({ ...row, account: letter(account_id), index: run.indexOf(id) }))
      .sort(byIndex),
    records: records.rows
      .map(({ idempotency_key, account_id, ...row }) => ({
        ...row,
        account: letter(account_id),
        index: run.indexOf(String(idempotency_key).replace('reservation:', '')),
      }))
      .sort(byIndex),
  };
}

describe('reservations decided in one statement per group', () => {
  it('answers and leaves everything exactly as the request-by-request groups did (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), async (steps) => {
        const run = new Run();
        for (const drawn of steps) {
          run.now += drawn.advance * 1000;
          let answers: Record<Side, Row[]>;
          if (drawn.kind === 'reserve') {
            const requests = run.reserves(drawn.reserves, drawn.repeats, drawn.stale);
            answers = {
              shipped: await call(RESERVE_SQL.shipped, requests.shipped, run.now),
              reference: await call(RESERVE_SQL.reference, requests.reference, run.now),
            };
          } else {
            const requests = run.commits(drawn.commits);
            const sql = (side: Side) =>
              drawn.kind === 'commit' ? COMMIT_SQL[side] : 'select * from usage_release_group($1::jsonb, $2)';
            answers = {
              shipped: await call(
                sql('shipped'),
                await withOwnAccounts(requests.shipped, run.accountOf('shipped', 0)),
                run.now,
              ),
              reference: await call(
                sql('reference'),
                await withOwnAccounts(requests.reference, run.accountOf('reference', 0)),
                run.now,
              ),
            };
          }
          expect(answers.shipped.map((row) => answerOf(run, row))).toEqual(
            answers.reference.map((row) => answerOf(run, row)),
          );
        }
        expect(await stateOf(run, 'shipped')).toEqual(await stateOf(run, 'reference'));
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('decides a group without a single-request call, and takes the request-by-request path for a repeated key', async () => {
    const run = new Run();
    const draw = (key: number | null): ReserveDraw => ({
      account: 0,
      metric: 0,
      period: 0,
      included: 10,
      overLimit: 'block',
      quantity: 4,
      ttl: 60,
      key,
    });
    const distinct = run.reserves([draw(1), draw(2), draw(null)], false, false).shipped;
    expect(await singleCallsOf(RESERVE_SQL.shipped, distinct, run.now)).toEqual({
      outcomes: ['held', 'held', 'limit'],
      singleCalls: 0,
    });
    const repeated = run.reserves([draw(3), draw(3)], true, false).shipped;
    expect(await singleCallsOf(RESERVE_SQL.shipped, repeated, run.now)).toEqual({
      outcomes: ['limit', 'limit'],
      singleCalls: 2,
    });
    const commits = distinct.slice(0, 2).map((request, item) => ({
      item,
      reservation_id: (request as { reservation_id: string }).reservation_id,
      account_id: run.accountOf('shipped', 0),
      quantity: 3,
      record_id: crypto.randomUUID(),
    }));
    expect(await singleCallsOf(COMMIT_SQL.shipped, commits, run.now)).toEqual({
      outcomes: ['committed', 'committed'],
      singleCalls: 0,
    });
  });

  it('reads holds and counters through their indexes only, however small the tables were when planned', async () => {
    const run = new Run();
    const draw = (key: number | null): ReserveDraw => ({
      account: 0,
      metric: 0,
      period: 0,
      included: null,
      overLimit: 'block',
      quantity: 1,
      ttl: 60,
      key,
    });
    const reserves = run.reserves([draw(1), draw(null), draw(2)], false, false).shipped;
    const commits = reserves.map((request, item) => ({
      item,
      reservation_id: (request as { reservation_id: string }).reservation_id,
      account_id: run.accountOf('shipped', 0),
      quantity: 1,
      record_id: crypto.randomUUID(),
    }));
    // A new connection plans the functions' statements afresh (and has no unflushed counts of other work).
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query('begin');
      const values = (requests: object[]) => [JSON.stringify(requests), new Date(run.now)];
      await client.query(RESERVE_SQL.shipped, values(reserves));
      // The same keys again: answered by looking them up.
      await client.query(RESERVE_SQL.shipped, values(run.reserves([draw(1), draw(2)], false, false).shipped));
      await client.query(COMMIT_SQL.shipped, values(commits));
      const { rows } = await client.query<{ relname: string; seq_scan: string }>(
        `select relname, seq_scan from pg_stat_xact_user_tables
          where relname in ('usage_reservation', 'usage_counter') order by relname`,
      );
      await client.query('commit');
      expect(rows.map((row) => [row.relname, Number(row.seq_scan)])).toEqual([
        ['usage_counter', 0],
        ['usage_reservation', 0],
      ]);
    } finally {
      await client.end();
    }
  });

  it('never holds past a limit under concurrent groups on one counter, as from many instances (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 6 }), {
          minLength: 2,
          maxLength: 5,
        }),
        async (limit, groups) => {
          const run = new Run();
          const draw = (quantity: number): ReserveDraw => ({
            account: 0,
            metric: 0,
            period: 0,
            included: limit,
            overLimit: 'block',
            quantity,
            ttl: 60,
            key: null,
          });
          // Each group its own statement on its own connection: they meet only on the counter's lock.
          const answered = await Promise.all(
            groups.map((quantities) =>
              call(RESERVE_SQL.shipped, run.reserves(quantities.map(draw), false, false).shipped, run.now),
            ),
          );
          const held = answered
            .flatMap((rows, group) =>
              rows.map((row) => ({ row, quantity: groups[group]?.[row.item] as number })),
            )
            .filter(({ row }) => row.outcome === 'held');
          const heldSum = held.reduce((sum, { quantity }) => sum + quantity, 0);
          expect(heldSum).toBeLessThanOrEqual(limit);
          const { rows } = await pool.query<{ reserved: string }>(
            'select reserved from usage_counter where account_id = $1',
            [run.accountOf('shipped', 0)],
          );
          expect(Number(rows[0]?.reserved)).toBe(heldSum);
          // Each answer's figure is the counter's right after it: distinct, and the last one is the total.
          expect(Math.max(0, ...held.map(({ row }) => Number(row.reserved)))).toBe(heldSum);
        },
      ),
      { numRuns: 20 },
    );
  });
});

/**
 * A group's outcomes and how many times it called ADR 0016's single functions, counted by PostgreSQL
 * (`pg_stat_xact_user_functions`, with function tracking on). A new connection each time: the view also shows a
 * connection's counts from earlier transactions it has not flushed yet.
 */
async function singleCallsOf(sql: string, requests: object[], now: number) {
  const client = new Client({ connectionString: database.url });
  await client.connect();
  try {
    await client.query('begin');
    await client.query("set local track_functions = 'pl'");
    const { rows } = await client.query<Row>(sql, [JSON.stringify(requests), new Date(now)]);
    const calls = await client.query<{ calls: string }>(
      `select coalesce(sum(calls), 0) as calls from pg_stat_xact_user_functions
        where funcname in ('usage_reserve', 'usage_commit')`,
    );
    await client.query('commit');
    return {
      outcomes: rows.sort((left, right) => left.item - right.item).map((row) => row.outcome),
      singleCalls: Number(calls.rows[0]?.calls),
    };
  } finally {
    await client.end();
  }
}
