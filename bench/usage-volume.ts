/**
 * `npm run bench:volume` (`-- --quick` in CI): does a full `usage_record` slow recording or reading down? Two
 * copies of the production build run side by side, each on its own database: one with an empty
 * `usage_record`, one seeded with 10 million rows (200,000 with `--quick`) by `generate_series` in SQL. Both
 * are measured in interleaved rounds of the same run (single `recordUsage` from the gateway's service role, and
 * the `usage` query a frontend reads), and the table gives the seeded one as a ratio of the empty one
 * (target: within 10 %, issue 14). The seed is what the retention keeps in steady state (ADR 0021): rows spread
 * over the last 30 days, and the idempotency keys of the last 24 hours (the window) in `usage_record_key`.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { signToken } from '../src/auth/token-signer';
import { benchDatabase } from './bench-database';
import { type Child, startChild, stopChild } from './child-process';
import {
  cpuSecondsOf,
  median,
  PRODUCTION_NODE_OPTIONS,
  prepareUsageAccounts,
  shippedEnvironment,
} from './load';

const ROOT = resolve(__dirname, '..');
const QUICK = process.argv.includes('--quick');
const ROWS_ARGUMENT = process.argv.indexOf('--rows');
const SEED_ROWS = ROWS_ARGUMENT > 0 ? Number(process.argv[ROWS_ARGUMENT + 1]) : QUICK ? 200_000 : 10_000_000;
const SEED_DAYS = 30;
const WINDOW_HOURS = 24;
const ROUNDS = QUICK ? 1 : 5;
const ROUND_SECONDS = QUICK ? 1 : 4;
const CONNECTIONS = 32;
const ACCOUNTS = 64;
const JWT_SECRET = randomBytes(32).toString('hex');

interface Target {
  label: string;
  service: Child;
  database: { url: string; drop(): Promise<void> };
}

interface Round {
  requestsPerSecond: number;
  cpuMicrosPerRequest: number;
  p99: number;
  errors: number;
}

async function measure(
  target: Target,
  body: () => object,
  headers: Record<string, string>,
  seconds: number,
): Promise<Round> {
  const pid = target.service.process.pid as number;
  const before = cpuSecondsOf(pid);
  const result = await autocannon({
    url: `${target.service.url}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    requests: [{ setupRequest: (request) => ({ ...request, body: JSON.stringify(body()) }) }],
    connections: CONNECTIONS,
    duration: seconds,
  });
  const cpu = cpuSecondsOf(pid) - before;
  return {
    requestsPerSecond: result.requests.average,
    cpuMicrosPerRequest: result.requests.total > 0 ? (cpu * 1e6) / result.requests.total : 0,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

async function startService(label: string): Promise<Target> {
  const database = await benchDatabase();
  const built = existsSync(resolve(ROOT, 'dist/src/app/create-app.js'));
  const service = await startChild(
    built ? 'bench/targets/built-service.js' : 'bench/targets/billing-service.ts',
    [],
    { ...shippedEnvironment(database.url, JWT_SECRET), USAGE_IDEMPOTENCY_WINDOW_HOURS: String(WINDOW_HOURS) },
    /READY (\S+)/,
    PRODUCTION_NODE_OPTIONS,
    resolve(tmpdir(), `coditect-bench-volume-${label}-${process.pid}.log`),
  );
  return { label, service, database };
}

/** SEED_ROWS records over the last SEED_DAYS days (into their daily partitions), and the window's keys. */
async function seed(url: string): Promise<{ rows: number; keys: number; seconds: number }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  const started = performance.now();
  try {
    await client.query(
      'select usage_record_ensure_partition((current_date - d)::date) from generate_series(0, $1) d',
      [SEED_DAYS],
    );
    await client.query(
      `insert into usage_record (id, created_at, updated_at, account_id, metric, quantity, idempotency_key, occurred_at, period_start)
       select gen_random_uuid(), t, t, 'acct_seed_' || (g % 10000), 'ai_requests', 1, 'seed-' || g, t, date_trunc('month', t)
       from generate_series(1, $1::int) g, lateral (select now() - ($2::int * interval '1 day') * g / $1::int as t) at_time`,
      [SEED_ROWS, SEED_DAYS],
    );
    const keys = await client.query(
      `insert into usage_record_key (account_id, idempotency_key, metric, quantity, created_at)
       select account_id, idempotency_key, metric, quantity, created_at from usage_record
       where created_at >= now() - $1::int * interval '1 hour'`,
      [WINDOW_HOURS],
    );
    await client.query('vacuum analyze usage_record, usage_record_key');
    return { rows: SEED_ROWS, keys: keys.rowCount ?? 0, seconds: (performance.now() - started) / 1000 };
  } finally {
    await client.end();
  }
}

const RECORD =
  'mutation($input: RecordUsageInput!) { recordUsage(input: $input) { duplicate usage { used remaining } } }';
const USAGE_QUERY = '{ viewer { usage { metric used included remaining } } }';

async function main(): Promise<void> {
  const targets: Target[] = [];
  try {
    targets.push(await startService('empty usage_record'));
    targets.push(await startService(`${SEED_ROWS.toLocaleString('en-US')} rows in usage_record`));
    const [empty, full] = targets as [Target, Target];
    const accounts = await prepareUsageAccounts(empty.service.url, JWT_SECRET, ACCOUNTS);
    await prepareUsageAccounts(full.service.url, JWT_SECRET, ACCOUNTS);
    const seeded = await seed(full.database.url);
    console.log(
      `seeded ${seeded.rows.toLocaleString('en-US')} rows over ${SEED_DAYS} days and ${seeded.keys.toLocaleString('en-US')} window keys in ${seeded.seconds.toFixed(0)} s`,
    );
    console.error('signing tokens');
    const gateway = await signToken(JWT_SECRET, {
      accountId: 'ai-gateway',
      roles: ['service'],
      expiresInSeconds: 7200,
    });
    const users = await Promise.all(
      accounts.map((accountId) => signToken(JWT_SECRET, { accountId, expiresInSeconds: 7200 })),
    );
    const run = randomBytes(4).toString('hex');
    let sequence = 0;
    const record = () => ({
      query: RECORD,
      variables: {
        input: {
          accountId: accounts[sequence % ACCOUNTS],
          metric: 'ai_requests',
          quantity: 1,
          idempotencyKey: `${run}-${++sequence}`,
        },
      },
    });
    const scenarios = [
      {
        name: 'recordUsage (service role, 64 accounts)',
        body: record,
        headers: () => ({ authorization: `Bearer ${gateway}` }),
      },
      {
        name: 'usage query (`viewer { usage }`, 64 accounts)',
        body: () => ({ query: USAGE_QUERY }),
        headers: () => ({ authorization: `Bearer ${users[sequence++ % ACCOUNTS]}` }),
      },
    ];
    console.error('warming up');
    const rounds = new Map<string, Round[]>();
    for (const scenario of scenarios)
      for (const target of targets) await measure(target, scenario.body, scenario.headers(), 1); // warm-up
    for (let round = 0; round < ROUNDS; round++)
      for (const scenario of scenarios)
        for (const target of targets) {
          const key = `${scenario.name}|${target.label}`;
          rounds.set(key, [
            ...(rounds.get(key) ?? []),
            await measure(target, scenario.body, scenario.headers(), ROUND_SECONDS),
          ]);
        }
    console.log(
      `\nNode ${process.version}, ${ROUNDS} interleaved rounds of ${ROUND_SECONDS} s, ${CONNECTIONS} connections (medians)\n`,
    );
    console.log(
      '| scenario | usage_record | req/s | CPU µs/req | p99 ms | errors | vs empty (req/s) | vs empty (CPU/req) |',
    );
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const scenario of scenarios) {
      const [base, seededRow] = targets.map((target) => {
        const rows = rounds.get(`${scenario.name}|${target.label}`) ?? [];
        return {
          label: target.label,
          requestsPerSecond: median(rows.map((row) => row.requestsPerSecond)),
          cpu: median(rows.map((row) => row.cpuMicrosPerRequest)),
          p99: median(rows.map((row) => row.p99)),
          errors: rows.reduce((sum, row) => sum + row.errors, 0),
        };
      }) as [
        { label: string; requestsPerSecond: number; cpu: number; p99: number; errors: number },
        { label: string; requestsPerSecond: number; cpu: number; p99: number; errors: number },
      ];
      for (const row of [base, seededRow])
        console.log(
          `| ${scenario.name} | ${row.label} | ${row.requestsPerSecond.toFixed(0)} | ${row.cpu.toFixed(0)} | ${row.p99} | ${row.errors} | ${(row.requestsPerSecond / base.requestsPerSecond).toFixed(2)}× | ${(row.cpu / base.cpu).toFixed(2)}× |`,
        );
    }
  } finally {
    await Promise.all(targets.map((target) => stopChild(target.service)));
    await Promise.all(targets.map((target) => target.database.drop()));
  }
}

// A run that stops with work still pending would otherwise end silently with exit code 0.
let finished = false;
process.on('beforeExit', () => {
  if (!finished && process.exitCode === undefined)
    console.error('usage-volume: the event loop emptied before the bench finished');
});

main()
  .then(() => {
    finished = true;
  })
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
