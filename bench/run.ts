/**
 * `npm run bench` (`-- --quick` in CI): throughput and latency of the service against a baseline measured in
 * the same run, reported as ratios because absolute figures on a shared 2-core machine are noise.
 * Each server runs in its own process; the load generator (autocannon) runs in this one.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import autocannon from 'autocannon';
import { signToken } from '../src/auth/token-signer';
import { benchDatabase } from './bench-database';
import { type Child, startChild, stopChild } from './child-process';

const _ROOT = resolve(__dirname, '..');
const QUICK = process.argv.includes('--quick');
const ROUNDS = QUICK ? 1 : 5;
const ROUND_SECONDS = QUICK ? 1 : 3;
const CONNECTIONS = 32;
const JWT_SECRET = randomBytes(32).toString('hex');

interface Row {
  name: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

interface Scenario {
  name: string;
  url: () => string;
  body: object;
  headers?: Record<string, string>;
}

async function measure(scenario: Scenario, seconds: number): Promise<Row> {
  const result = await autocannon({
    url: `${scenario.url()}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...scenario.headers },
    body: JSON.stringify(scenario.body),
    connections: CONNECTIONS,
    duration: seconds,
  });
  return {
    name: scenario.name,
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Every scenario runs in ROUNDS short rounds, interleaved with the others, and the median round counts: a
 * burst of background load then hits all scenarios alike instead of skewing one ratio.
 */
async function runInterleaved(scenarios: Scenario[]): Promise<Row[]> {
  for (const scenario of scenarios) await measure(scenario, 1); // warm-up: JIT, pools, caches
  const rounds = new Map<string, Row[]>(scenarios.map((scenario) => [scenario.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of scenarios) rounds.get(scenario.name)?.push(await measure(scenario, ROUND_SECONDS));
  }
  return scenarios.map((scenario) => {
    const rows = rounds.get(scenario.name) ?? [];
    return {
      name: scenario.name,
      requestsPerSecond: median(rows.map((row) => row.requestsPerSecond)),
      p50: median(rows.map((row) => row.p50)),
      p99: median(rows.map((row) => row.p99)),
      errors: rows.reduce((sum, row) => sum + row.errors, 0),
    };
  });
}

function format(rows: Row[], baseline: Row): string {
  const header = '| scenario | req/s | p50 ms | p99 ms | errors | throughput vs baseline |';
  const lines = rows.map(
    (row) =>
      `| ${row.name} | ${Math.round(row.requestsPerSecond)} | ${row.p50} | ${row.p99} | ${row.errors} | ${(row.requestsPerSecond / baseline.requestsPerSecond).toFixed(2)}× |`,
  );
  return [header, '| --- | ---: | ---: | ---: | ---: | ---: |', ...lines].join('\n');
}

async function main(): Promise<void> {
  const database = await benchDatabase();
  const targets: Child[] = [];
  let rows: Row[] = [];
  try {
    const bare = await startChild('bench/targets/bare-apollo.ts', [], {}, /READY (\S+)/);
    targets.push(bare);
    const service = await startChild(
      'bench/targets/billing-service.ts',
      [],
      {
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        AUTH_JWT_SECRET: JWT_SECRET,
        // Required in production; these scenarios make no Stripe call.
        STRIPE_SECRET_KEY: 'sk_test_bench_no_calls',
      },
      /READY (\S+)/,
    );
    targets.push(service);
    const token = await signToken(JWT_SECRET, { accountId: 'acct_bench', expiresInSeconds: 3600 });
    const typename = { query: '{ __typename }' };
    rows = await runInterleaved([
      { name: 'bare Apollo on Fastify: `{ __typename }` (baseline)', url: () => bare.url, body: typename },
      { name: 'billing service: `{ __typename }`, anonymous', url: () => service.url, body: typename },
      {
        name: 'billing service: `{ __typename }` with a bearer token',
        url: () => service.url,
        body: typename,
        headers: { authorization: `Bearer ${token}` },
      },
    ]);
  } finally {
    await Promise.all(targets.map(stopChild));
    await database.drop();
  }

  const baseline = rows[0];
  console.log(
    `\n${QUICK ? 'QUICK run: checks that every scenario works; the figures mean nothing' : `${ROUNDS} interleaved rounds of ${ROUND_SECONDS} s per scenario (medians)`}, ${CONNECTIONS} connections\n`,
  );
  console.log(format(rows, baseline));
  const failures = rows.filter((row) => row.errors > 0 || row.requestsPerSecond === 0);
  if (failures.length > 0) {
    console.error(`\nScenarios with errors: ${failures.map((row) => row.name).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
