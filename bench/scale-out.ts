/**
 * `npm run bench:scale` (`-- --quick` in CI): the service as shipped on 1, 2 and 3 instances over one PostgreSQL
 * and one Redis, the same load spread evenly over the instances (48 connections in all). Beside throughput it
 * reads where the CPU went per request: the instances, PostgreSQL (every backend), Redis and the load generator,
 * which is what says which part limits each path on this machine (docs/scaling.md).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import autocannon from 'autocannon';
import { signToken } from '../src/auth/token-signer';
import { benchDatabase } from './bench-database';
import { type Child, startChild, stopChild } from './child-process';
import {
  cpuSecondsOf,
  median,
  peakRssMbOf,
  pidsNamed,
  PRODUCTION_NODE_OPTIONS,
  prepareUsageAccounts,
  shippedEnvironment,
  singleRecordBodies,
} from './load';

const ROOT = resolve(__dirname, '..');
const QUICK = process.argv.includes('--quick');
const INSTANCE_COUNTS = QUICK ? [1, 2] : [1, 2, 3];
const ROUNDS = QUICK ? 1 : 3;
const ROUND_SECONDS = QUICK ? 1 : 4;
const TOTAL_CONNECTIONS = 48;
const JWT_SECRET = randomBytes(32).toString('hex');

interface Scenario {
  name: string;
  body: object | (() => object);
  headers: Record<string, string>;
}

interface Sample {
  requestsPerSecond: number;
  p99: number;
  errors: number;
  /** CPU µs per request, by where it was spent. */
  cpu: { service: number; postgres: number; redis: number; loadGenerator: number };
}

async function startInstances(count: number, databaseUrl: string): Promise<Child[]> {
  const built = existsSync(resolve(ROOT, 'dist/src/app/create-app.js'));
  const instances: Child[] = [];
  for (let index = 0; index < count; index++) {
    instances.push(
      await startChild(
        built ? 'bench/targets/built-service.js' : 'bench/targets/billing-service.ts',
        [],
        shippedEnvironment(databaseUrl, JWT_SECRET),
        /READY (\S+)/,
        PRODUCTION_NODE_OPTIONS,
        resolve(tmpdir(), `coditect-bench-scale-${process.pid}-${index}.log`),
      ),
    );
  }
  return instances;
}

/** One round: every instance loaded at once by its own autocannon, the CPU of every part read around it. */
async function round(instances: Child[], scenario: Scenario, seconds: number): Promise<Sample> {
  const servicePids = instances.map((instance) => instance.process.pid as number);
  const before = {
    service: cpuByPid(servicePids),
    postgres: cpuByPid(pidsNamed('postgres')),
    redis: cpuByPid(pidsNamed('redis-server')),
    own: process.cpuUsage(),
  };
  const { body } = scenario;
  const results = await Promise.all(
    instances.map((instance) =>
      autocannon({
        url: `${instance.url}/graphql`,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...scenario.headers },
        ...(typeof body === 'function'
          ? { requests: [{ setupRequest: (request) => ({ ...request, body: JSON.stringify(body()) }) }] }
          : { body: JSON.stringify(body) }),
        connections: TOTAL_CONNECTIONS / instances.length,
        duration: seconds,
      }),
    ),
  );
  const own = process.cpuUsage(before.own);
  const requests = results.reduce((total, result) => total + result.requests.total, 0);
  const perRequest = (cpuSeconds: number) => (requests > 0 ? (cpuSeconds * 1e6) / requests : 0);
  return {
    requestsPerSecond: requests / seconds,
    p99: Math.max(...results.map((result) => result.latency.p99)),
    errors: results.reduce((total, result) => total + result.errors + result.non2xx, 0),
    cpu: {
      service: perRequest(cpuSince(before.service, servicePids)),
      postgres: perRequest(cpuSince(before.postgres, pidsNamed('postgres'))),
      redis: perRequest(cpuSince(before.redis, pidsNamed('redis-server'))),
      loadGenerator: perRequest((own.user + own.system) / 1e6),
    },
  };
}

function cpuByPid(pids: number[]): Map<number, number> {
  return new Map(pids.map((pid) => [pid, cpuSecondsOf(pid)]));
}

/**
 * CPU seconds the processes used since `before`: a process that started meanwhile (a new PostgreSQL backend)
 * counts from zero; one that exited meanwhile is lost, which undercounts a little and never goes negative.
 */
function cpuSince(before: Map<number, number>, pidsNow: number[]): number {
  return pidsNow.reduce((total, pid) => total + Math.max(0, cpuSecondsOf(pid) - (before.get(pid) ?? 0)), 0);
}

function medianSample(samples: Sample[]): Sample {
  const of = (pick: (sample: Sample) => number) => median(samples.map(pick));
  return {
    requestsPerSecond: of((sample) => sample.requestsPerSecond),
    p99: of((sample) => sample.p99),
    errors: samples.reduce((total, sample) => total + sample.errors, 0),
    cpu: {
      service: of((sample) => sample.cpu.service),
      postgres: of((sample) => sample.cpu.postgres),
      redis: of((sample) => sample.cpu.redis),
      loadGenerator: of((sample) => sample.cpu.loadGenerator),
    },
  };
}

async function scenariosFor(url: string): Promise<Scenario[]> {
  const user = await signToken(JWT_SECRET, { accountId: 'acct_bench', expiresInSeconds: 3600 });
  const gateway = await signToken(JWT_SECRET, {
    accountId: 'ai-gateway',
    roles: ['service'],
    expiresInSeconds: 3600,
  });
  const accounts = await prepareUsageAccounts(url, JWT_SECRET, 64);
  return [
    { name: 'the no-op (`{ __typename }` with a token)', body: { query: '{ __typename }' }, headers: user },
    {
      name: '`feature(key)`',
      body: { query: '{ viewer { feature(key: "ai_requests") { allowed remaining } } }' },
      headers: user,
    },
    { name: '`recordUsage` (64 accounts)', body: singleRecordBodies(accounts), headers: gateway },
  ].map((scenario) => ({ ...scenario, headers: { authorization: `Bearer ${scenario.headers}` } }));
}

async function main(): Promise<void> {
  const database = await benchDatabase();
  const lines: string[] = [];
  const single = new Map<string, number>();
  let peakRssMb = 0;
  let failed = false;
  try {
    for (const count of INSTANCE_COUNTS) {
      const instances = await startInstances(count, database.url);
      try {
        const scenarios = await scenariosFor((instances[0] as Child).url);
        for (const scenario of scenarios) await round(instances, scenario, 1); // warm-up
        for (const scenario of scenarios) {
          const samples: Sample[] = [];
          for (let index = 0; index < ROUNDS; index++)
            samples.push(await round(instances, scenario, ROUND_SECONDS));
          const result = medianSample(samples);
          if (count === 1) single.set(scenario.name, result.requestsPerSecond);
          failed ||= result.errors > 0 || result.requestsPerSecond === 0;
          lines.push(tableRow(count, scenario.name, result, single.get(scenario.name) ?? 0));
        }
        for (const instance of instances)
          peakRssMb = Math.max(peakRssMb, peakRssMbOf(instance.process.pid as number));
      } finally {
        await Promise.all(instances.map(stopChild));
      }
    }
  } finally {
    await database.drop();
  }
  console.log(
    `\n${QUICK ? 'QUICK run: checks that it works; the figures mean nothing' : `${ROUNDS} rounds of ${ROUND_SECONDS} s (medians)`}, ${TOTAL_CONNECTIONS} connections spread over the instances, ${process.version}\n`,
  );
  console.log(
    '| instances | scenario | req/s | vs 1 instance | p99 ms | errors | CPU µs/req: instances | PostgreSQL | Redis | load generator |',
  );
  console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const line of lines) console.log(line);
  console.log(`\nPeak RSS of any instance: ${peakRssMb} MB`);
  if (failed) {
    console.error('\nA scenario had errors or served nothing');
    process.exitCode = 1;
  }
}

function tableRow(count: number, name: string, sample: Sample, singleInstance: number): string {
  const ratio = singleInstance > 0 ? `${(sample.requestsPerSecond / singleInstance).toFixed(2)}×` : '—';
  const { cpu } = sample;
  return `| ${count} | ${name} | ${Math.round(sample.requestsPerSecond)} | ${ratio} | ${sample.p99} | ${sample.errors} | ${Math.round(cpu.service)} | ${Math.round(cpu.postgres)} | ${Math.round(cpu.redis)} | ${Math.round(cpu.loadGenerator)} |`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
