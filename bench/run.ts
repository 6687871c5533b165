/**
 * `npm run bench` (`-- --quick` in CI): throughput and latency of the service against a baseline measured in
 * the same run, reported as ratios because absolute figures on a shared 2-core machine are noise.
 * Each server runs in its own process; the load generator (autocannon) runs in this one.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
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
  peakRssMbOf,
  prepareUsageAccounts,
  RECORD_USAGE,
  shippedEnvironment,
} from './load';
import { type PacedOptions, pacedLoad, quantile } from './paced-load';

const ROOT = resolve(__dirname, '..');
const QUICK = process.argv.includes('--quick');
/** `--only=feature,batch`: run only the scenarios whose names contain one of these (the baseline and no-op always run). */
const ONLY = (process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length) ?? '')
  .split(',')
  .filter(Boolean);
/** `--profile`: the service runs under `--cpu-prof`; the profile lands in .prof/ when the bench stops it. */
const PROFILE = process.argv.includes('--profile');
/**
 * `--rate=N`: the fixed-rate model call is offered N req/s (N / 2 calls: a reserve and a commit each), the same
 * for both builds all run long; without it, 45 % of the lower of the two builds' saturated req/s in the round.
 */
const RATE = Number(process.argv.find((arg) => arg.startsWith('--rate='))?.slice('--rate='.length) ?? 0);
if (!(Number.isFinite(RATE) && RATE >= 0)) throw new Error('--rate: requests per second, a positive number');
/** `--rounds=N`: more rounds than 5, for a median steadier against other processes' bursts. */
const ROUNDS = QUICK
  ? 1
  : Number(process.argv.find((arg) => arg.startsWith('--rounds='))?.slice('--rounds='.length) ?? 5);
if (!(Number.isInteger(ROUNDS) && ROUNDS >= 1))
  throw new Error('--rounds: how many rounds, a whole number ≥ 1');
const ROUND_SECONDS = QUICK ? 1 : 3;
const CONNECTIONS = 32;
const JWT_SECRET = randomBytes(32).toString('hex');

interface Row {
  name: string;
  requestsPerSecond: number;
  /** CPU time the server process spent per request (µs): steadier than throughput on a shared machine. */
  cpuMicrosPerRequest: number;
  /** CPU time the backends of the service's own database spent per request (µs; other databases not counted). */
  postgresMicrosPerRequest: number;
  /** Usage events per request (100 for a batch), for the events/s column. */
  eventsPerRequest: number;
  p50: number;
  p99: number;
  /** A fixed-rate round's p99 in the service (its access log's `responseTime`), beside the client's `p99`. */
  serviceP99?: number;
  errors: number;
}

interface Scenario {
  name: string;
  url: () => string;
  /** The server process, whose CPU time is read around each round. */
  pid: () => number;
  /** The service's database, whose backends' CPU time is read around each round (none for the bare baseline). */
  database?: string;
  /** The request body; a function makes a new one per request (unique idempotency keys). */
  body: object | (() => object);
  /** Instead of `body`: a sequence of requests each connection repeats (a reserve, then its commit). */
  requests?: autocannon.Request[];
  headers?: Record<string, string>;
  eventsPerRequest?: number;
  /** Connections of the load generator (default CONNECTIONS). */
  connections?: number;
  /**
   * Load offered at a fixed rate instead of as fast as the server answers (bench/paced-load.ts): `--rate` req/s,
   * else `share` of the LOWEST req/s the scenarios named `of` (one per build) reached in their latest round
   * (measured before this one in every round), so that both builds are offered the same rate; in uses of
   * `requestsPerUse` requests each. Latency at saturation is a queue (Little's law: mean latency = connections /
   * throughput); at a rate under it, latency is the service's own. Each build paced at a share of its OWN rate
   * was offered more the faster it was, and its latency read higher (bench/README.md, 2026-12-07 03:00).
   */
  offered?: { share: number; of: string[]; requestsPerUse: number; use: PacedOptions['use'] };
  /** The path requested (default `/graphql`). */
  path?: string;
  /** The service's access log, where a fixed-rate round reads its p99 in the service. */
  accessLog?: string;
}

/** Each scenario's latest measured round, by name (a fixed-rate scenario's rate is read from it). */
const latest = new Map<string, Row>();

interface Load {
  requests: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  serviceP99?: number;
  errors: number;
}

/** The scenario's load for `seconds`: autocannon as fast as answered, or paced at its offered rate. */
async function load(scenario: Scenario, seconds: number): Promise<Load> {
  const { body, offered } = scenario;
  const headers = { 'content-type': 'application/json', ...scenario.headers };
  if (offered) {
    const usesPerSecond = Math.max(
      1,
      offeredRequestsPerSecond(scenario.name, offered) / offered.requestsPerUse,
    );
    const { url, connections = CONNECTIONS } = scenario;
    const from = Date.now();
    const paced = await pacedLoad({
      url: url(),
      headers,
      usesPerSecond,
      seconds,
      connections,
      use: offered.use,
    });
    const round = (ms: number) => Math.round(ms * 10) / 10;
    const inService = scenario.accessLog ? responseTimesOf(scenario.accessLog, from, Date.now()) : [];
    const result = {
      requests: paced.requests,
      requestsPerSecond: paced.requests / seconds,
      p50: round(quantile(paced.latencies, 0.5)),
      p99: round(quantile(paced.latencies, 0.99)),
      ...(inService.length > 0 ? { serviceP99: round(quantile(inService, 0.99)) } : {}),
      errors: paced.errors,
    };
    console.log(
      `${scenario.name.slice(0, 40)}…: p99 ${result.p99} ms at the client, ${result.serviceP99 ?? '?'} ms in the service; the load generator's event-loop delay p99 ${round(paced.loopDelayP99)} ms`,
    );
    return result;
  }
  const result = await autocannon({
    url: `${scenario.url()}${scenario.path ?? '/graphql'}`,
    method: 'POST',
    headers,
    ...(scenario.requests
      ? { requests: scenario.requests }
      : typeof body === 'function'
        ? { requests: [{ setupRequest: (request) => ({ ...request, body: JSON.stringify(body()) }) }] }
        : { body: JSON.stringify(body) }),
    connections: scenario.connections ?? CONNECTIONS,
    duration: seconds,
  });
  return {
    requests: result.requests.total,
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

/**
 * The `responseTime` (ms: from the request read to the answer written, Fastify's) of the requests the service's
 * access log shows answered from `from` to `to` (epoch ms): the latency without the load generator's own delays.
 */
function responseTimesOf(accessLog: string, from: number, to: number): number[] {
  const times: number[] = [];
  for (const line of readFileSync(accessLog, 'utf8').split('\n')) {
    // A line still being written when read has no closing brace yet: its request counts in the next round.
    if (!line.includes('"responseTime"') || !line.endsWith('}')) continue;
    const entry = JSON.parse(line) as { time: number; responseTime: number };
    if (entry.time >= from && entry.time <= to) times.push(entry.responseTime);
  }
  return times;
}

/** `--rate`, else `share` of the lowest latest req/s of the saturated scenarios `of` (those measured). */
function offeredRequestsPerSecond(name: string, offered: NonNullable<Scenario['offered']>): number {
  if (RATE > 0) return RATE;
  const saturated = offered.of.flatMap((of) => latest.get(of)?.requestsPerSecond ?? []);
  if (saturated.length === 0) throw new Error(`${name}: measure ${offered.of.join(' or ')} first`);
  return Math.min(...saturated) * offered.share;
}

async function measure(scenario: Scenario, seconds: number): Promise<Row> {
  const cpuBefore = cpuSecondsOf(scenario.pid());
  const backendsBefore = await backendCpuOf(scenario.database);
  const result = await load(scenario, seconds);
  const cpuSeconds = cpuSecondsOf(scenario.pid()) - cpuBefore;
  const backendsAfter = await backendCpuOf(scenario.database);
  // A backend that started during the round counts from zero; one that ended is lost (pools keep theirs).
  let postgresSeconds = 0;
  for (const [pid, seconds] of backendsAfter) postgresSeconds += seconds - (backendsBefore.get(pid) ?? 0);
  const perRequest = (total: number) => (result.requests > 0 ? (total * 1e6) / result.requests : 0);
  const row: Row = {
    name: scenario.name,
    cpuMicrosPerRequest: perRequest(cpuSeconds),
    postgresMicrosPerRequest: perRequest(postgresSeconds),
    requestsPerSecond: result.requestsPerSecond,
    eventsPerRequest: scenario.eventsPerRequest ?? 0,
    p50: result.p50,
    p99: result.p99,
    ...(result.serviceP99 === undefined ? {} : { serviceP99: result.serviceP99 }),
    errors: result.errors,
  };
  latest.set(scenario.name, row);
  return row;
}

/**
 * Every scenario runs in ROUNDS short rounds, interleaved with the others, and the median round counts: a
 * burst of background load then hits all scenarios alike instead of skewing one ratio. `groups` are the
 * scenarios measured side by side (a `--before` scenario and this checkout's); a group runs in its order in even
 * rounds and reversed in odd ones, so neither build always runs second, right after the other has loaded the
 * shared PostgreSQL and cores (a batch round writes ~36,000 rows): bench/README.md, 2026-12-06 17:28–18:10.
 */
async function runInterleaved(groups: Scenario[][]): Promise<Row[]> {
  const scenarios = groups.flat();
  for (const scenario of scenarios) await measure(scenario, 1); // warm-up: JIT, pools, caches
  const rounds = new Map<string, Row[]>(scenarios.map((scenario) => [scenario.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = groups.flatMap((group) => (round % 2 === 0 ? group : [...group].reverse()));
    for (const scenario of order) rounds.get(scenario.name)?.push(await measure(scenario, ROUND_SECONDS));
  }
  return scenarios.map((scenario) => {
    const rows = rounds.get(scenario.name) ?? [];
    const inService = rows.flatMap((row) => row.serviceP99 ?? []);
    return {
      name: scenario.name,
      cpuMicrosPerRequest: median(rows.map((row) => row.cpuMicrosPerRequest)),
      postgresMicrosPerRequest: median(rows.map((row) => row.postgresMicrosPerRequest)),
      eventsPerRequest: scenario.eventsPerRequest ?? 0,
      requestsPerSecond: median(rows.map((row) => row.requestsPerSecond)),
      p50: median(rows.map((row) => row.p50)),
      p99: median(rows.map((row) => row.p99)),
      ...(inService.length > 0 ? { serviceP99: median(inService) } : {}),
      errors: rows.reduce((sum, row) => sum + row.errors, 0),
    };
  });
}

/** Each row against the baseline, and against the no-op of its own service (the `before: ` rows against theirs). */
function format(rows: Row[], baseline: Row): string {
  const header =
    '| scenario | req/s | usage events/s | p50 ms | p99 ms | errors | server CPU µs/req | PostgreSQL CPU µs/req | throughput vs bare Apollo | throughput vs no-op | CPU per request vs no-op |';
  const noOpOf = (row: Row) =>
    rows.find(
      (candidate) => candidate.name === (row.name.startsWith('before: ') ? `before: ${NO_OP}` : NO_OP),
    ) ?? row;
  const lines = rows.map((row) => {
    const noOp = noOpOf(row);
    return [
      row.name,
      Math.round(row.requestsPerSecond),
      row.eventsPerRequest ? Math.round(row.requestsPerSecond * row.eventsPerRequest) : '—',
      row.p50,
      row.p99,
      row.errors,
      Math.round(row.cpuMicrosPerRequest),
      Math.round(row.postgresMicrosPerRequest),
      `${(row.requestsPerSecond / baseline.requestsPerSecond).toFixed(2)}×`,
      `${(row.requestsPerSecond / noOp.requestsPerSecond).toFixed(2)}×`,
      `${(row.cpuMicrosPerRequest / noOp.cpuMicrosPerRequest).toFixed(2)}×`,
    ].join(' | ');
  });
  return [
    header,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...lines.map((line) => `| ${line} |`),
  ].join('\n');
}

/** Accounts the usage scenarios spread over (one counter row each, as many customers' gateways would). */
const USAGE_ACCOUNTS = 64;

const RECORD_USAGE_BATCH =
  'mutation($input: [RecordUsageInput!]!) { recordUsageBatch(input: $input) { duplicate } }';
const RESERVE_USAGE = 'mutation($input: ReserveUsageInput!) { reserveUsage(input: $input) { id } }';
const COMMIT_USAGE =
  'mutation($input: CommitUsageInput!) { commitUsage(input: $input) { duplicate usage { used remaining } } }';

/**
 * A reservation before the work and the commit of what it used after, as the usage middleware and the client's
 * `meteredModelCall` send them: each connection repeats the pair, the commit naming the reservation just made.
 * `reserve` and `commit` give the inputs beyond the account (and the reservation).
 */
function reserveAndCommit(
  accounts: string[],
  reserve: Record<string, unknown>,
  commit: { query: string; input: Record<string, unknown> },
): autocannon.Request[] {
  let sequence = 0;
  return [
    {
      setupRequest: (request, context) => {
        const accountId = accounts[sequence++ % accounts.length] as string;
        Object.assign(context, { accountId });
        return {
          ...request,
          body: JSON.stringify({ query: RESERVE_USAGE, variables: { input: { accountId, ...reserve } } }),
        };
      },
      onResponse: (_status, body, context) => {
        const answer = JSON.parse(body) as { data?: { reserveUsage?: { id: string } } };
        Object.assign(context, { reservationId: answer.data?.reserveUsage?.id });
      },
    },
    {
      setupRequest: (request, context) => {
        const { accountId, reservationId } = context as { accountId: string; reservationId: string };
        return {
          ...request,
          body: JSON.stringify({
            query: commit.query,
            variables: { input: { accountId, reservationId, ...commit.input } },
          }),
        };
      },
    },
  ];
}

/** A metric's reservation, as the usage middleware makes one per request of the AI gateway. */
const METRIC_CALL = {
  reserve: { metric: 'ai_requests', quantity: 1 },
  commit: { query: COMMIT_USAGE, input: { quantity: 1 } },
};

/**
 * A model call (issue 17): the estimate reserved in credits (rate card, included credits, member limit, balance, in
 * one ledger transaction), then the tokens the model reported committed. Each account's included credits (granted
 * on its first hold) pay for the calls.
 */
const MODEL_CALL = {
  reserve: { model: 'claude-haiku-4', inputTokens: 200, maxOutputTokens: 100, memberId: 'bench' },
  commit: {
    query: 'mutation($input: CommitUsageInput!) { commitUsage(input: $input) { duplicate } }',
    input: { inputTokens: 200, outputTokens: 80 },
  },
};

const MODEL_CALL_SATURATED =
  'billing service: a model call, `reserveUsage(model, tokens)` then `commitUsage(tokens)`, 50 connections (credits ledger; req/s counts both)';
/** The fixed-rate model call's share of the saturated one's req/s (measured just before it, each round). */
const MODEL_CALL_OFFERED_SHARE = 0.45;
const MODEL_CALL_OFFERED =
  RATE > 0
    ? `${RATE} req/s offered to each build`
    : `${MODEL_CALL_OFFERED_SHARE * 100} % of the lower saturated req/s of the builds`;

/** A model call as the paced load makes one (bench/paced-load.ts): the reserve, then the commit naming it. */
function modelCallUse(accounts: string[]): PacedOptions['use'] {
  let sequence = 0;
  return async (post) => {
    const accountId = accounts[sequence++ % accounts.length] as string;
    const reserved = JSON.parse(
      await post({ query: RESERVE_USAGE, variables: { input: { accountId, ...MODEL_CALL.reserve } } }),
    ) as { data?: { reserveUsage?: { id: string } } };
    const reservationId = reserved.data?.reserveUsage?.id;
    if (!reservationId) throw new Error('the reservation failed');
    await post({
      query: MODEL_CALL.commit.query,
      variables: { input: { accountId, reservationId, ...MODEL_CALL.commit.input } },
    });
  };
}

/** Request bodies with a fresh idempotency key each (a repeated key would measure the duplicate path). */
function usageBodies(accounts: string[]) {
  const run = randomBytes(4).toString('hex');
  let sequence = 0;
  const nextEvent = (accountId: string) => ({
    accountId,
    metric: 'ai_requests',
    quantity: 1,
    idempotencyKey: `${run}-${++sequence}`,
  });
  const accountAt = (n: number) => accounts[n % accounts.length] as string;
  return {
    single: () => ({ query: RECORD_USAGE, variables: { input: nextEvent(accountAt(sequence)) } }),
    // One account per batch, as a gateway flushing one customer's buffered events sends them.
    batch: () => {
      const accountId = accountAt(Math.floor(sequence / 100));
      return {
        query: RECORD_USAGE_BATCH,
        variables: { input: Array.from({ length: 100 }, () => nextEvent(accountId)) },
      };
    },
  };
}

/**
 * Starts the service as production runs it, from `root` (this checkout, or with `--before=DIR` an older one built
 * there): compiled when built, with the image's heap caps, the default log level (info) and its access log
 * written to a file, as a container runtime would take it.
 */
async function startService(root: string, databaseUrl: string, label: string): Promise<Child> {
  const built = existsSync(resolve(root, 'dist/src/app/create-app.js'));
  const logFile = accessLogOf(label);
  if (!built && root !== ROOT) throw new Error(`--before: build ${root} first (npm ci && npm run build)`);
  const service = await startChild(
    built ? 'bench/targets/built-service.js' : 'bench/targets/billing-service.ts',
    [],
    { ...shippedEnvironment(databaseUrl, JWT_SECRET), BENCH_SERVICE_ROOT: root },
    /READY (\S+)/,
    [...(await productionNodeOptionsOf(root)), ...profileArguments(label)],
    logFile,
  );
  console.log(`${label}: the service (${process.version}, ${built ? 'compiled' : 'swc'}) logs to ${logFile}`);
  return service;
}

/**
 * The heap settings `root`'s checkout ships with (its `bench/load.ts`): a `--before` build runs with its own, so a
 * change to them is measured as the change it is.
 */
async function productionNodeOptionsOf(root: string): Promise<string[]> {
  const theirs = resolve(root, 'bench/load.ts');
  if (resolve(root) === ROOT || !existsSync(theirs)) return PRODUCTION_NODE_OPTIONS;
  const load = (await import(theirs)) as { PRODUCTION_NODE_OPTIONS?: string[] };
  return load.PRODUCTION_NODE_OPTIONS ?? PRODUCTION_NODE_OPTIONS;
}

/** The file a service's stdout (its access log) goes to: `label` is `after` or `before`. */
function accessLogOf(label: string): string {
  return resolve(tmpdir(), `coditect-bench-${label}-${process.pid}.log`);
}

/** Node's arguments that profile a target under --profile: `.prof/<label>-<pid>.cpuprofile`. */
function profileArguments(label: string): string[] {
  return PROFILE
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${resolve(ROOT, '.prof')}`,
        `--cpu-prof-name=${label}-\${pid}.cpuprofile`,
      ]
    : [];
}

/** The service's scenarios; `prefix` names which service ("before: " for the `--before` checkout). */
async function serviceScenarios(service: Child, prefix: string, database: string): Promise<Scenario[]> {
  const token = await signToken(JWT_SECRET, { accountId: 'acct_bench', expiresInSeconds: 3600 });
  const gateway = await signToken(JWT_SECRET, {
    accountId: 'ai-gateway',
    roles: ['service'],
    expiresInSeconds: 3600,
  });
  const usageAccounts = await prepareUsageAccounts(service.url, JWT_SECRET, USAGE_ACCOUNTS);
  const usage = usageBodies(usageAccounts);
  const on = { url: () => service.url, pid: () => service.process.pid as number, database };
  const accessLog = accessLogOf(prefix ? 'before' : 'after');
  const asUser = { authorization: `Bearer ${token}` };
  const asGateway = { authorization: `Bearer ${gateway}` };
  return [
    { ...on, name: `${prefix}billing service: \`{ __typename }\`, anonymous`, body: TYPENAME },
    {
      ...on,
      name: `${prefix}${NO_OP}`,
      body: TYPENAME,
      headers: asUser,
    },
    {
      ...on,
      name: `${prefix}billing service: \`viewer { feature(key: "ai_requests") { allowed remaining } }\``,
      body: { query: '{ viewer { feature(key: "ai_requests") { allowed remaining } } }' },
      headers: asUser,
    },
    {
      ...on,
      name: `${prefix}billing service: \`recordUsage\` (service role, 64 accounts)`,
      body: usage.single,
      headers: asGateway,
      eventsPerRequest: 1,
    },
    {
      ...on,
      name: `${prefix}billing service: \`reserveUsage\` then \`commitUsage\` (the middleware per request; req/s counts both)`,
      body: {},
      requests: reserveAndCommit(usageAccounts, METRIC_CALL.reserve, METRIC_CALL.commit),
      headers: asGateway,
      // Two requests per use: the events/s column shows uses committed per second.
      eventsPerRequest: 0.5,
    },
    {
      ...on,
      name: `${prefix}${MODEL_CALL_SATURATED}`,
      body: {},
      requests: reserveAndCommit(usageAccounts, MODEL_CALL.reserve, MODEL_CALL.commit),
      headers: asGateway,
      eventsPerRequest: 0.5,
      // Both checkouts know model calls (a `--before` from 5bb6e17 on): measured for each, in the same run.
      connections: 50,
    },
    {
      ...on,
      // Issue 17's p99 at 50 connections, read where it means something: under saturation (bench/README.md).
      name: `${prefix}billing service: a model call at ${MODEL_CALL_OFFERED}, 50 connections (fixed offered rate: its p99)`,
      body: {},
      headers: asGateway,
      eventsPerRequest: 0.5,
      connections: 50,
      accessLog,
      offered: {
        share: MODEL_CALL_OFFERED_SHARE,
        // Both builds' saturated model calls: the lower sets the rate, the same for both.
        of: [MODEL_CALL_SATURATED, `before: ${MODEL_CALL_SATURATED}`],
        requestsPerUse: 2,
        use: modelCallUse(usageAccounts),
      },
    },
    {
      ...on,
      name: `${prefix}billing service: \`recordUsageBatch\` of 100 (service role, one account per batch)`,
      body: usage.batch,
      headers: asGateway,
      eventsPerRequest: 100,
    },
    // The same records and batches over the JSON routes (ADR 0030), when the checkout has them (a `--before` may not).
    ...((await hasUsageBatchRoute(service.url))
      ? [
          {
            ...on,
            name: `${prefix}billing service: \`POST /usage/record\` (the same records without GraphQL)`,
            body: () => ({ input: usage.single().variables.input }),
            headers: asGateway,
            eventsPerRequest: 1,
            path: '/usage/record',
          },
          {
            ...on,
            name: `${prefix}billing service: \`POST /usage/batch\` of 100 (the same batches without GraphQL)`,
            body: () => ({ input: usage.batch().variables.input }),
            headers: asGateway,
            eventsPerRequest: 100,
            path: '/usage/batch',
          },
        ]
      : []),
  ];
}

/** Whether the service answers `POST /usage/batch` (401 without a token) rather than 404. */
async function hasUsageBatchRoute(url: string): Promise<boolean> {
  const response = await fetch(`${url}/usage/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"input":[]}',
  });
  await response.text();
  return response.status !== 404;
}

const TYPENAME = { query: '{ __typename }' };
const NO_OP = 'billing service: `{ __typename }` with a bearer token (the no-op)';
/** `--before=DIR`: also run the service built in DIR (an older checkout), interleaved, for a same-run before/after. */
const BEFORE = process.argv.find((arg) => arg.startsWith('--before='))?.slice('--before='.length);
/** `--after=DIR`: the "after" service is the one built in DIR instead of this checkout (two older builds compared). */
const AFTER = process.argv.find((arg) => arg.startsWith('--after='))?.slice('--after='.length);

function chosen(scenario: Scenario): boolean {
  return (
    scenario.name.includes(NO_OP) || ONLY.length === 0 || ONLY.some((part) => scenario.name.includes(part))
  );
}

/** The chosen scenarios, with the saturated ones a chosen fixed-rate scenario takes its rate from. */
function chosenOf(scenarios: Scenario[]): Scenario[] {
  const needed = new Set(scenarios.filter(chosen).flatMap((scenario) => scenario.offered?.of ?? []));
  // The rate is given: the saturated scenarios are measured only when chosen themselves.
  if (RATE > 0) needed.clear();
  return scenarios.filter((scenario) => chosen(scenario) || needed.has(scenario.name));
}

/** A connection of the bench's own (to the server's `postgres` database) to find the services' backends. */
let monitor: Client | null = null;

function nameOf(database: { url: string } | undefined): string {
  return new URL((database as { url: string }).url).pathname.slice(1);
}

/** CPU seconds so far of every backend connected to `database`, by pid (PostgreSQL runs on this machine). */
async function backendCpuOf(database: string | undefined): Promise<Map<number, number>> {
  if (!database || !monitor) return new Map();
  const { rows } = await monitor.query<{ pid: number }>(
    'select pid from pg_stat_activity where datname = $1',
    [database],
  );
  return new Map(rows.map(({ pid }) => [pid, cpuSecondsOf(pid)]));
}

async function main(): Promise<void> {
  monitor = new Client({
    connectionString: process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  });
  await monitor.connect();
  const databases = [await benchDatabase(), ...(BEFORE ? [await benchDatabase()] : [])];
  const targets: Child[] = [];
  let rows: Row[] = [];
  const peakRss: string[] = [];
  try {
    // Profiled too with --profile (`bare-*.cpuprofile`): the service's profile read against the baseline's.
    const bare = await startChild(
      'bench/targets/bare-apollo.ts',
      [],
      {},
      /READY (\S+)/,
      profileArguments('bare'),
    );
    targets.push(bare);
    const service = await startService(
      AFTER ? resolve(AFTER) : ROOT,
      (databases[0] as { url: string }).url,
      'after',
    );
    targets.push(service);
    const before = BEFORE
      ? await startService(resolve(BEFORE), (databases[1] as { url: string }).url, 'before')
      : null;
    if (before) targets.push(before);
    const after = chosenOf(await serviceScenarios(service, '', nameOf(databases[0])));
    const older = before ? chosenOf(await serviceScenarios(before, 'before: ', nameOf(databases[1]))) : [];
    const baseline: Scenario = {
      name: 'bare Apollo on Fastify: `{ __typename }` (baseline)',
      url: () => bare.url,
      pid: () => bare.process.pid as number,
      body: TYPENAME,
    };
    // Before and after side by side, each pair in the same round; paired by name (the older may lack one).
    const olderOf = (scenario: Scenario) =>
      older.find((candidate) => candidate.name === `before: ${scenario.name}`);
    rows = await runInterleaved([
      [baseline],
      ...after.map((scenario) => [olderOf(scenario), scenario].filter((pair) => pair !== undefined)),
    ]);
    peakRss.push(`after ${peakRssMbOf(service.process.pid as number)} MB`);
    if (before) peakRss.push(`before ${peakRssMbOf(before.process.pid as number)} MB`);
  } finally {
    await monitor?.end();
    await Promise.all(targets.map(stopChild));
    await Promise.all(databases.map((database) => database.drop()));
  }
  report(rows, peakRss);
}

function report(rows: Row[], peakRss: string[]): void {
  const baseline = rows[0] as Row;
  console.log(
    `\n${QUICK ? 'QUICK run: checks that every scenario works; the figures mean nothing' : `${ROUNDS} interleaved rounds of ${ROUND_SECONDS} s per scenario (medians)`}, ${CONNECTIONS} connections, ${process.version}\n`,
  );
  console.log(format(rows, baseline));
  for (const row of rows.filter((candidate) => candidate.serviceP99 !== undefined))
    console.log(
      `\n${row.name}: p99 ${row.p99} ms at the client, ${row.serviceP99} ms in the service (its access log's responseTime, medians of the rounds)`,
    );
  console.log(`\nThe billing service's peak RSS over the run: ${peakRss.join(', ')}`);
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
