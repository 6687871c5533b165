/**
 * `npm run bench:webhooks` (`-- --quick` in CI): the live-update latency and the webhook ingestion throughput of
 * issues 5 and 8, measured on real processes.
 *
 * - Two service instances (A and B), each its own process, share one PostgreSQL database and Redis, as in
 *   production; the Stripe emulator runs in a third process. This process signs events, POSTs them and listens.
 * - Latency: a graphql-ws client on instance B subscribes to `accountUpdated` for one account; signed
 *   `customer.subscription.updated` events for that account (distinct ids, the same subscription: each one is
 *   refetched, written, provisioned and published) go to instance A at a steady rate. For each, the time from
 *   A's 200 answer to B's push, and from the POST to B's push. Target (issue 5): p99 ≤ 100 ms.
 * - Ingestion (issue 14: ≥ 1,000 events/s answered, p99 ≤ 50 ms): distinct signed events spread over many
 *   accounts, POSTed by 32 concurrent senders to instance C, a third one that only stores and answers
 *   (`WEBHOOK_WORKERS=0`, so its CPU per event is the answer's alone); events answered 200 `queued` (durable in the inbox)
 *   per second, and the answer latency. The endpoint answers before processing (ADR 0020).
 * - Processing (issue 14: ≥ 500 events/s sustained, exactly once): the same events, processed behind the answers
 *   by the queues of A and B; from the first POST until the last event's commit (the inbox's timestamps), and
 *   checked in the inbox: each event processed once (one row, `processed`, one attempt).
 * - The two halves apart (the two above share this machine's 2 cores, which cannot run both at their targets at
 *   once): the same number of new events POSTed to C while A and B are stopped (SIGSTOP), the answer path's own
 *   capacity; then A and B resumed (SIGCONT) on the backlog, processing's own rate, exactly once as above.
 * - Steady load (issue 8): 100 events/s, open loop, spread over the ingestion accounts, each watched by its own
 *   graphql-ws subscriber on B; the time from the POST to A until B pushes. Target: p99 ≤ 100 ms.
 * - Cost per event: the service targets run with BENCH_STATS=1 and print their SQL statements (by verb and
 *   table), Stripe calls and memory on SIGUSR2; the bench takes a snapshot around each phase and divides by the
 *   events it sent. The peak RSS (VmHWM) of each child process is read from /proc at the end. Target: ≤ 256 MB (issue 14).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient } from 'graphql-ws';
import { Client as PgClient } from 'pg';
import Stripe from 'stripe';
import WebSocket from 'ws';
import { signToken } from '../src/auth/token-signer';
import { loadPlanCatalog } from '../src/services/plans/plan-catalog';
import { syncCatalog } from '../src/catalog/catalog-sync';
import { benchDatabase } from './bench-database';
import { type Child, startChild, stopChild } from './child-process';
import { PRODUCTION_NODE_OPTIONS } from './load';

const ROOT = resolve(__dirname, '..');
/**
 * `--root=DIR`: the instances run the build of another checkout (e.g. main before a change, built there), measured
 * by this bench's phases, so before and after differ only in the service.
 */
const SERVICE_ROOT = resolve(
  process.argv.find((arg) => arg.startsWith('--root='))?.slice('--root='.length) ?? ROOT,
);
const QUICK = process.argv.includes('--quick');
const LATENCY_EVENTS = QUICK ? 5 : 200;
const LATENCY_INTERVAL_MS = 100; // 10 events/s, steady: under what one loaded instance ingests, so no queue builds
const INGEST_EVENTS = QUICK ? 40 : 3000;
const INGEST_ACCOUNTS = QUICK ? 4 : 50;
const INGEST_CONCURRENCY = 32;
const STEADY_RATE = 100; // events/s, open loop (issue 8: webhook → subscriber p99 ≤ 100 ms at 100 events/s)
const STEADY_EVENTS = QUICK ? 20 : 1000;
/** BENCH_CPU_PROF=DIR: each child process writes a V8 CPU profile into DIR when it stops (bench/README.md). */
const CPU_PROFILE_ARGS = process.env.BENCH_CPU_PROF
  ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env.BENCH_CPU_PROF)}`]
  : [];
/** The emulator's command, as `npx stripe-emulator` runs it (the package's bin registers its own compiler). */
const EMULATOR_BIN = resolve(
  dirname(require.resolve('stripe-emulator/package.json')),
  'bin/stripe-emulator.js',
);
/** What the endpoint answers for a new event: stored, processed behind the answer (ADR 0020). */
const QUEUED = 'queued';
const JWT_SECRET = randomBytes(32).toString('hex');
const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('hex')}`;
const STRIPE_KEY = 'sk_test_bench_webhooks_0123456789';

/** A `customer.subscription.updated` event about `subscription`, with a fresh id, signed as Stripe signs it. */
function signedEvent(subscription: Stripe.Subscription): { id: string; body: string; signature: string } {
  const event = {
    id: `evt_bench_${randomBytes(12).toString('hex')}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    data: { object: subscription, previous_attributes: {} },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'customer.subscription.updated',
  };
  const body = JSON.stringify(event);
  return {
    id: event.id,
    body,
    signature: Stripe.webhooks.generateTestHeaderString({ payload: body, secret: WEBHOOK_SECRET }),
  };
}

async function deliver(serviceUrl: string, signed: { body: string; signature: string }): Promise<string> {
  const response = await fetch(`${serviceUrl}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signed.signature },
    body: signed.body,
  });
  const json = (await response.json().catch(() => ({}))) as { outcome?: string };
  return response.status === 200 ? (json.outcome ?? 'no outcome') : `HTTP ${response.status}`;
}

/** A customer of `accountId` with a paid starter subscription, made in the emulator as Stripe would have it. */
async function subscribedAccount(
  stripe: Stripe,
  accountId: string,
  priceId: string,
): Promise<Stripe.Subscription> {
  const customer = await stripe.customers.create({
    email: `${accountId}@example.com`,
    metadata: { account_id: accountId },
    payment_method: 'pm_card_visa',
    invoice_settings: { default_payment_method: 'pm_card_visa' },
  });
  return stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: priceId }],
    metadata: { account_id: accountId },
  });
}

/** A progress line on stderr, so a run that stalls shows where. */
function progress(step: string): void {
  console.error(`[bench:webhooks] ${new Date().toISOString().slice(11, 19)} ${step}`);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface Row {
  name: string;
  count: number;
  rate: string;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  errors: number;
  target: string;
}

function row(name: string, samples: number[], rate: string, errors: number, target: string): Row {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    name,
    count: samples.length,
    rate,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    errors,
    target,
  };
}

function format(rows: Row[]): string {
  const ms = (value: number) => (Number.isNaN(value) ? '–' : value.toFixed(1));
  return [
    '| measurement | events | rate | p50 ms | p95 ms | p99 ms | max ms | errors | target |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.count} | ${r.rate} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.p99)} | ${ms(r.max)} | ${r.errors} | ${r.target} |`,
    ),
  ].join('\n');
}

/** What a service target prints on SIGUSR2 under BENCH_STATS=1 (bench/targets/billing-service.ts). */
interface ChildStats {
  sql: Record<string, number>;
  stripe: Record<string, number>;
  /** CPU time (user + system) the process used since it started. */
  cpuMs: number;
  rss: number;
  heapUsed: number;
}

/** Asks a service target for its counters: sends SIGUSR2 and resolves with the `STATS` line it prints. */
function statsOf(child: Child): () => Promise<ChildStats> {
  let buffered = '';
  let waiting: ((stats: ChildStats) => void) | null = null;
  child.process.stdout?.on('data', (chunk: Buffer) => {
    const lines = (buffered + chunk.toString()).split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('STATS ') || !waiting) continue;
      const answer = waiting;
      waiting = null;
      answer(JSON.parse(line.slice('STATS '.length)) as ChildStats);
    }
  });
  return () =>
    new Promise((done, fail) => {
      const timer = setTimeout(() => fail(new Error('a service target did not answer SIGUSR2')), 10_000);
      waiting = (stats) => {
        clearTimeout(timer);
        done(stats);
      };
      child.process.kill('SIGUSR2');
    });
}

/** `after − before` of each counter, and their total. */
function delta(before: Record<string, number>, after: Record<string, number>) {
  const counts = Object.entries(after)
    .map(([key, value]) => [key, value - (before[key] ?? 0)] as const)
    .filter(([, value]) => value > 0)
    .sort((x, y) => y[1] - x[1]);
  return { counts, total: counts.reduce((sum, [, value]) => sum + value, 0) };
}

/** What one phase cost on a service instance, per event it was sent. */
interface PhaseCost {
  name: string;
  events: number;
  sql: ReturnType<typeof delta>;
  stripe: ReturnType<typeof delta>;
  /** CPU time the instance spent in the phase: steadier than any wall-clock figure on a shared machine. */
  cpuMs: number;
  /** The emulator's CPU time in the phase (Stripe's side of the refetches), when measured. */
  emulatorCpuMs?: number;
  /** PostgreSQL's: the CPU time of the backends connected to the bench's database, when measured. */
  postgresCpuMs?: number;
}

function phaseCost(name: string, events: number, before: ChildStats, after: ChildStats): PhaseCost {
  return {
    name,
    events,
    sql: delta(before.sql, after.sql),
    stripe: delta(before.stripe, after.stripe),
    cpuMs: after.cpuMs - before.cpuMs,
  };
}

/** CPU time (user + system) a process used so far, in ms, from /proc (Linux); NaN elsewhere. */
function cpuMsOf(pid: number | undefined): number {
  try {
    // Fields 14 and 15 (utime, stime) in clock ticks, counted after the command name, which may hold spaces.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

function formatCosts(costs: PhaseCost[]): string {
  const per = (count: number, events: number) => (events > 0 ? (count / events).toFixed(2) : '–');
  return [
    '| phase (instance) | events | CPU ms/event | emulator CPU ms/event | PostgreSQL CPU ms/event | SQL statements/event | Stripe calls/event | statements/event by kind |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...costs.map(
      (cost) =>
        `| ${cost.name} | ${cost.events} | ${per(cost.cpuMs, cost.events)} | ${cost.emulatorCpuMs === undefined ? '–' : per(cost.emulatorCpuMs, cost.events)} | ${cost.postgresCpuMs === undefined ? '–' : per(cost.postgresCpuMs, cost.events)} | ${per(cost.sql.total, cost.events)} | ${per(cost.stripe.total, cost.events)} | ${cost.sql.counts
          .map(([key, count]) => `${key} ${per(count, cost.events)}`)
          .join(', ')} |`,
    ),
  ].join('\n');
}

/**
 * CPU ms so far of every backend connected to the bench's database, by pid (PostgreSQL runs on this machine; the
 * services' pools keep their connections, so a phase's figure is after − before; a backend that started in the
 * phase counts from zero). The asking connection's own backend is left out.
 */
async function postgresCpuMs(databaseUrl: string): Promise<Map<number, number>> {
  const db = new PgClient({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
    );
    return new Map(rows.map(({ pid }) => [pid, cpuMsOf(pid)]));
  } finally {
    await db.end();
  }
}

function postgresCpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) if (Number.isFinite(ms)) total += ms - (before.get(pid) ?? 0);
  return total;
}

/** The peak resident set (VmHWM) of a process, in MiB, from /proc (Linux); NaN elsewhere. */
function peakRssMiB(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid ?? 'self'}/status`, 'utf8');
    const kib = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
    return kib ? Number(kib) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** A graphql-ws subscriber on `serviceUrl` that timestamps each `accountUpdated` push. */
async function liveSubscriber(serviceUrl: string, accountId: string) {
  const token = await signToken(JWT_SECRET, { accountId, expiresInSeconds: 3600 });
  const client = createClient({
    url: `${serviceUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const arrivals: number[] = [];
  const errors: unknown[] = [];
  let onArrival: (() => void) | null = null;
  const dispose = client.subscribe(
    { query: 'subscription { accountUpdated { id plan { key } subscription { status currentPeriodEnd } } }' },
    {
      next: (message) => {
        if (message.errors) errors.push(...message.errors);
        arrivals.push(performance.now());
        onArrival?.();
      },
      error: (error) => errors.push(error),
      complete: () => undefined,
    },
  );
  return {
    arrivals,
    errors,
    /** Resolves when `count` pushes have arrived, or rejects after `timeoutMs`. */
    waitFor: (count: number, timeoutMs: number) =>
      new Promise<void>((done, fail) => {
        if (arrivals.length >= count) return done();
        const timer = setTimeout(
          () => fail(new Error(`only ${arrivals.length} of ${count} pushes within ${timeoutMs} ms`)),
          timeoutMs,
        );
        onArrival = () => {
          if (arrivals.length >= count) {
            clearTimeout(timer);
            onArrival = null;
            done();
          }
        };
      }),
    close: async () => {
      dispose();
      await client.dispose();
    },
  };
}

/** Until no subscriber has received a push for 500 ms. */
async function untilQuiet(subscribers: Array<{ arrivals: number[] }>): Promise<void> {
  for (let total = -1; ; ) {
    const now = subscribers.reduce((sum, subscriber) => sum + subscriber.arrivals.length, 0);
    if (now === total) return;
    total = now;
    await new Promise((done) => setTimeout(done, 500));
  }
}

/**
 * Open loop: events at a fixed rate whatever happens (a burst about one account, as a checkout makes). Paced: the
 * same rate at most, but each event only once the previous push arrived, so no backlog hides the push latency.
 */
async function measureLatency(
  a: Child,
  b: Child,
  subscription: Stripe.Subscription,
  accountId: string,
  paced: boolean,
  databaseUrl: string,
) {
  const subscriber = await liveSubscriber(b.url, accountId);
  try {
    // The subscription is live once a push arrives: send until one does (SUBSCRIBE reaches Redis lazily).
    const warmUps: string[] = [];
    for (let tries = 0; subscriber.arrivals.length === 0; tries++) {
      if (tries > 50) throw new Error('the subscriber on instance B never received an update');
      const signed = signedEvent(subscription);
      await deliver(a.url, signed);
      warmUps.push(signed.id);
      await new Promise((done) => setTimeout(done, 100));
    }
    // Every warm-up event's push in before the measured ones: one still on its way would count as theirs. Each
    // is processed, and its push out, then quiet: a warm-up processed before B's SUBSCRIBE reached Redis was
    // pushed to nobody, so waiting for one push per warm-up could wait for a push that never comes.
    await waitProcessed(databaseUrl, warmUps, 10_000);
    await untilQuiet([subscriber]);
    const offset = subscriber.arrivals.length;

    const sentAt: number[] = [];
    const answeredAt: number[] = [];
    const outcomes: string[] = [];
    const requests: Array<Promise<void>> = [];
    const start = performance.now();
    for (let index = 0; index < LATENCY_EVENTS; index++) {
      const due = start + index * LATENCY_INTERVAL_MS;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((done) => setTimeout(done, wait));
      if (paced) await subscriber.waitFor(offset + index, 10_000);
      const signed = signedEvent(subscription);
      sentAt[index] = performance.now();
      requests.push(
        deliver(a.url, signed).then((outcome) => {
          answeredAt[index] = performance.now();
          outcomes[index] = outcome;
        }),
      );
    }
    await Promise.all(requests);
    await subscriber.waitFor(offset + LATENCY_EVENTS, 30_000);
    const achieved = LATENCY_EVENTS / ((performance.now() - start) / 1000);
    await new Promise((done) => setTimeout(done, 200)); // anything extra (a duplicate push) would show up
    const pushes = subscriber.arrivals.slice(offset);
    const afterAnswer = pushes.slice(0, LATENCY_EVENTS).map((at, index) => at - answeredAt[index]);
    const afterPost = pushes.slice(0, LATENCY_EVENTS).map((at, index) => at - sentAt[index]);
    const answer = answeredAt.map((at, index) => at - sentAt[index]);
    const errors =
      outcomes.filter((outcome) => outcome !== QUEUED).length +
      subscriber.errors.length +
      Math.abs(pushes.length - LATENCY_EVENTS);
    // What went wrong, named: a row's error count alone does not say (seen once in a quick run, not reproduced).
    if (errors > 0)
      progress(
        `${paced ? 'paced' : 'open loop'}: answers ${JSON.stringify(outcomes)}, ${pushes.length} pushes for ${LATENCY_EVENTS} events, subscriber errors ${JSON.stringify(subscriber.errors)}`,
      );
    const rate = paced
      ? `${achieved.toFixed(1)}/s (paced)`
      : `${(1000 / LATENCY_INTERVAL_MS).toFixed(0)}/s (open loop)`;
    const mode = paced ? 'paced' : 'open loop';
    return [
      row(
        `${mode}: A answers 200 → B pushes \`accountUpdated\``,
        afterAnswer,
        rate,
        errors,
        'p99 ≤ 100 ms (issue 5)',
      ),
      row(`${mode}: POST to A → A answers 200`, answer, rate, errors, '—'),
      row(`${mode}: POST to A → B pushes \`accountUpdated\``, afterPost, rate, errors, '—'),
    ];
  } finally {
    await subscriber.close();
  }
}

/**
 * Webhook → subscriber at a steady rate (issue 8): STEADY_RATE events/s, open loop, round-robin over the
 * accounts, each account watched by its own graphql-ws subscriber on B. For each event, the POST to A → B's
 * push for that account (pushes of one account arrive in the order of its events: one Redis channel).
 */
async function measureSteady(a: Child, b: Child, subscriptions: Stripe.Subscription[], accountIds: string[]) {
  const subscribers = await Promise.all(accountIds.map((accountId) => liveSubscriber(b.url, accountId)));
  try {
    // Each subscription is live once a push arrived (SUBSCRIBE reaches Redis lazily); this also links customers.
    for (let tries = 0; subscribers.some((subscriber) => subscriber.arrivals.length === 0); tries++) {
      if (tries > 50) throw new Error('a subscriber on instance B never received an update');
      await Promise.all(
        subscribers.map((subscriber, index) =>
          subscriber.arrivals.length === 0 ? deliver(a.url, signedEvent(subscriptions[index])) : null,
        ),
      );
      await new Promise((done) => setTimeout(done, 100));
    }
    // Until the warm-up's pushes stopped coming (a late one counted as the first measured push would shift the
    // matching of events to pushes by one).
    await untilQuiet(subscribers);
    const offsets = subscribers.map((subscriber) => subscriber.arrivals.length);
    // Signed before the clock starts: the load generator shares the 2 CPUs with what it measures.
    const events = Array.from({ length: STEADY_EVENTS }, (_, index) =>
      signedEvent(subscriptions[index % subscriptions.length]),
    );
    const sentAt: number[][] = subscribers.map(() => []);
    const answers: number[] = [];
    const outcomes: string[] = [];
    const requests: Array<Promise<void>> = [];
    const start = performance.now();
    let lastSent = start;
    for (let index = 0; index < STEADY_EVENTS; index++) {
      const wait = start + (index * 1000) / STEADY_RATE - performance.now();
      if (wait > 0) await new Promise((done) => setTimeout(done, wait));
      const account = index % subscribers.length;
      const sent = performance.now();
      lastSent = sent;
      sentAt[account].push(sent);
      requests.push(
        deliver(a.url, events[index]).then((outcome) => {
          answers.push(performance.now() - sent);
          outcomes.push(outcome);
        }),
      );
    }
    const achieved = STEADY_EVENTS / (Math.max(1, lastSent - start) / 1000);
    await Promise.all(requests);
    await Promise.all(
      subscribers.map((subscriber, account) =>
        subscriber.waitFor(offsets[account] + sentAt[account].length, 30_000),
      ),
    );
    await new Promise((done) => setTimeout(done, 200)); // anything extra (a duplicate push) would show up
    const afterPost: number[] = [];
    let missing = 0;
    for (const [account, subscriber] of subscribers.entries()) {
      const pushes = subscriber.arrivals.slice(offsets[account]);
      missing += Math.abs(pushes.length - sentAt[account].length);
      for (const [index, sent] of sentAt[account].entries())
        if (pushes[index] !== undefined) afterPost.push(pushes[index] - sent);
    }
    const errors =
      outcomes.filter((outcome) => outcome !== QUEUED).length +
      subscribers.reduce((sum, subscriber) => sum + subscriber.errors.length, 0) +
      missing;
    const rate = `${achieved.toFixed(0)}/s (open loop)`;
    const over = `${accountIds.length} accounts`;
    return [
      row(
        `steady: POST to A → B pushes \`accountUpdated\`, ${over}`,
        afterPost,
        rate,
        errors,
        'p99 ≤ 100 ms (issue 8)',
      ),
      row(`steady: POST to A → A answers 200, ${over}`, answers, rate, errors, '—'),
    ];
  } finally {
    await Promise.all(subscribers.map((subscriber) => subscriber.close()));
  }
}

/** What the inbox says of `ids` once processed: when the last committed, and how many were processed how often. */
interface ProcessedSummary {
  processed: number;
  rows: number;
  attempts: number;
  /** Unix ms of the first arrival, and of the first and the last commit among them. */
  firstReceivedMs: number;
  firstProcessedMs: number;
  lastProcessedMs: number;
}

async function processedSummary(databaseUrl: string, ids: string[]): Promise<ProcessedSummary> {
  const db = new PgClient({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{
      processed: number;
      rows: number;
      attempts: number;
      first: number;
      first_processed: number | null;
      last: number | null;
    }>(
      `select count(*) filter (where status = 'processed')::int as processed, count(*)::int as rows,
              coalesce(sum(attempts), 0)::int as attempts,
              extract(epoch from min(received_at)) * 1000 as first,
              extract(epoch from min(processed_at)) * 1000 as first_processed,
              extract(epoch from max(processed_at)) * 1000 as last
         from webhook_event where stripe_event_id = any($1)`,
      [ids],
    );
    const row = rows[0];
    return {
      processed: row.processed,
      rows: row.rows,
      attempts: row.attempts,
      firstReceivedMs: Number(row.first),
      firstProcessedMs: Number(row.first_processed ?? Number.NaN),
      lastProcessedMs: Number(row.last ?? Number.NaN),
    };
  } finally {
    await db.end();
  }
}

/** Exactly once: one row per event, each processed, with one attempt (a second processing would count two). */
function exactlyOnceErrors(ids: string[], done: ProcessedSummary): number {
  return (
    ids.length - done.processed + Math.abs(done.rows - ids.length) + Math.abs(done.attempts - ids.length)
  );
}

/** Waits until every one of `ids` is processed (or fails after `timeoutMs`), and answers the summary. */
async function waitProcessed(
  databaseUrl: string,
  ids: string[],
  timeoutMs: number,
): Promise<ProcessedSummary> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const summary = await processedSummary(databaseUrl, ids);
    if (summary.processed >= ids.length || Date.now() > deadline) return summary;
    await new Promise((done) => setTimeout(done, 50));
  }
}

/** INGEST_EVENTS distinct signed events, spread over the accounts' subscriptions. */
function ingestionEvents(subscriptions: Stripe.Subscription[]) {
  return Array.from({ length: INGEST_EVENTS }, (_, index) =>
    signedEvent(subscriptions[index % subscriptions.length]),
  );
}

/** Sends `events` to `url` from INGEST_CONCURRENCY senders, each the next event once its last was answered. */
async function sendConcurrently(url: string, events: Array<{ id: string; body: string; signature: string }>) {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: INGEST_CONCURRENCY }, async () => {
      while (next < events.length) {
        const signed = events[next++];
        const sent = performance.now();
        const outcome = await deliver(url, signed);
        latencies.push(performance.now() - sent);
        if (outcome !== QUEUED) errors++;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return { latencies, errors, perSecond: (events.length - errors) / seconds };
}

/**
 * The two halves apart: ingestion into C while A and B are stopped (SIGSTOP: as when the processing instances run
 * on other machines, the answer path's own capacity, with only PostgreSQL and this load generator beside it),
 * then A and B resumed on the backlog it left (processing's own rate, with no answers competing for the CPU).
 * This 2-core machine cannot run both at their targets at once (about 3 ms of CPU per event in all, issue 14);
 * the phase before measures them together.
 */
async function measureHalvesApart(
  instances: { a: Child; b: Child; c: Child },
  subscriptions: Stripe.Subscription[],
  stats: { a: () => Promise<ChildStats>; b: () => Promise<ChildStats>; c: () => Promise<ChildStats> },
  databaseUrl: string,
): Promise<{ rows: Row[]; costs: PhaseCost[] }> {
  const events = ingestionEvents(subscriptions);
  const [beforeA, beforeB, beforeC] = [await stats.a(), await stats.b(), await stats.c()];
  const postgresBefore = await postgresCpuMs(databaseUrl);
  for (const child of [instances.a, instances.b]) child.process.kill('SIGSTOP');
  let sent: Awaited<ReturnType<typeof sendConcurrently>>;
  let postgresAnswering: number;
  try {
    sent = await sendConcurrently(instances.c.url, events);
    postgresAnswering = postgresCpuSince(postgresBefore, await postgresCpuMs(databaseUrl));
  } finally {
    for (const child of [instances.a, instances.b]) child.process.kill('SIGCONT');
  }
  const answeredC = await stats.c();
  const postgresResumed = await postgresCpuMs(databaseUrl);
  const ids = events.map((signed) => signed.id);
  const done = await waitProcessed(databaseUrl, ids, 300_000);
  const postgresProcessing = postgresCpuSince(postgresResumed, await postgresCpuMs(databaseUrl));
  const [afterA, afterB] = [await stats.a(), await stats.b()];
  const processingErrors = exactlyOnceErrors(ids, done);
  const over = `${subscriptions.length} accounts`;
  return {
    rows: [
      row(
        `ingestion on C alone (A and B stopped): distinct signed events over ${over}, ${INGEST_CONCURRENCY} senders`,
        sent.latencies,
        `${sent.perSecond.toFixed(0)} events/s`,
        sent.errors,
        '≥ 1,000/s, p99 ≤ 50 ms (issue 14)',
      ),
      {
        ...row(
          `processing alone: A and B resumed on that backlog, first → last commit, ${done.processed} processed, ${done.attempts} attempts`,
          [],
          // From the first commit: the workers' wake-up after SIGCONT is not processing.
          `${((done.processed - 1) / ((done.lastProcessedMs - done.firstProcessedMs) / 1000)).toFixed(0)} events/s`,
          processingErrors,
          '≥ 500/s, exactly once (issue 14)',
        ),
        count: done.processed,
      },
    ],
    costs: [
      {
        ...phaseCost('ingestion alone (C)', events.length, beforeC, answeredC),
        postgresCpuMs: postgresAnswering,
      },
      {
        ...phaseCost('processing alone (A)', events.length, beforeA, afterA),
        postgresCpuMs: postgresProcessing,
      },
      phaseCost('processing alone (B)', events.length, beforeB, afterB),
    ],
  };
}

/**
 * Ingestion into C, an instance that only stores and answers (`WEBHOOK_WORKERS=0`), so its CPU per event is the
 * answer's alone; A and B process behind the answers.
 */
async function measureIngestion(
  c: Child,
  emulator: Child,
  subscriptions: Stripe.Subscription[],
  stats: { a: () => Promise<ChildStats>; b: () => Promise<ChildStats>; c: () => Promise<ChildStats> },
  databaseUrl: string,
): Promise<{ rows: Row[]; costs: PhaseCost[] }> {
  // Warm-up: links every customer, fills pools and caches; not measured.
  const warmUp = subscriptions.map((subscription) => signedEvent(subscription));
  await Promise.all(warmUp.map((signed) => deliver(c.url, signed)));
  await waitProcessed(
    databaseUrl,
    warmUp.map((signed) => signed.id),
    60_000,
  );
  const [beforeA, beforeB, beforeC] = [await stats.a(), await stats.b(), await stats.c()];
  const emulatorBefore = cpuMsOf(emulator.process.pid);
  const postgresBefore = await postgresCpuMs(databaseUrl);
  const events = ingestionEvents(subscriptions);
  const startedAtMs = Date.now();
  const { latencies, errors, perSecond } = await sendConcurrently(c.url, events);
  const answeredC = await stats.c();
  const ids = events.map((signed) => signed.id);
  const done = await waitProcessed(databaseUrl, ids, 300_000);
  const [afterA, afterB] = [await stats.a(), await stats.b()];
  const emulatorCpuMs = cpuMsOf(emulator.process.pid) - emulatorBefore;
  const postgresCpu = postgresCpuSince(postgresBefore, await postgresCpuMs(databaseUrl));
  const processingSeconds = (done.lastProcessedMs - startedAtMs) / 1000;
  const processingErrors = exactlyOnceErrors(ids, done);
  const over = `${subscriptions.length} accounts`;
  return {
    rows: [
      row(
        `ingestion on C: distinct signed events over ${over}, ${INGEST_CONCURRENCY} senders, answered once stored`,
        latencies,
        `${perSecond.toFixed(0)} events/s`,
        errors,
        '≥ 1,000/s, p99 ≤ 50 ms (issue 14)',
      ),
      {
        ...row(
          `processing by A and B: first POST → last commit, ${done.processed} processed, ${done.attempts} attempts`,
          [],
          `${(done.processed / processingSeconds).toFixed(0)} events/s`,
          processingErrors,
          '≥ 500/s, exactly once (issue 14)',
        ),
        count: done.processed,
      },
    ],
    costs: [
      phaseCost('ingestion (C: store and answer)', events.length, beforeC, answeredC),
      // PostgreSQL's CPU is the phase's whole: C's inserts, A's and B's claims and transactions (they overlap).
      {
        ...phaseCost('processing (A)', events.length, beforeA, afterA),
        emulatorCpuMs,
        postgresCpuMs: postgresCpu,
      },
      phaseCost('processing (B)', events.length, beforeB, afterB),
    ],
  };
}

/**
 * The compiled service when SERVICE_ROOT is built (as production runs it: no compiler in the process, whose
 * memory would count in the peak RSS), else this checkout's sources under swc.
 */
function serviceTarget(): string {
  if (existsSync(resolve(SERVICE_ROOT, 'dist/src/app/create-app.js'))) {
    progress(`instances run the build in ${SERVICE_ROOT}`);
    return 'bench/targets/built-service.js';
  }
  if (SERVICE_ROOT !== ROOT) throw new Error(`--root: build ${SERVICE_ROOT} first (npm ci && npm run build)`);
  progress('instances run the sources under swc (npm run build first to measure the service as it ships)');
  return 'bench/targets/billing-service.ts';
}

async function main(): Promise<void> {
  const database = await benchDatabase();
  const children: Child[] = [];
  let rows: Row[] = [];
  const costs: PhaseCost[] = [];
  const peaks: Array<{ name: string; mib: number }> = [];
  try {
    const emulator = await startChild(
      EMULATOR_BIN,
      ['--port', '0'],
      {},
      /Stripe emulator listening on (\S+)/,
      CPU_PROFILE_ARGS,
    );
    children.push(emulator);
    const emulatorUrl = new URL(emulator.url);
    const stripe = new Stripe(STRIPE_KEY, {
      host: emulatorUrl.hostname,
      port: Number(emulatorUrl.port),
      protocol: 'http',
    });
    progress('emulator up; syncing the catalog');
    await syncCatalog(stripe, loadPlanCatalog());
    progress('starting instances A and B');
    const env = {
      // As it ships: production mode and the default log level (info), its lines on a pipe this process drains.
      NODE_ENV: 'production',
      BENCH_SERVICE_ROOT: SERVICE_ROOT,
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: database.url,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      AUTH_JWT_SECRET: JWT_SECRET,
      STRIPE_SECRET_KEY: STRIPE_KEY,
      STRIPE_API_BASE: emulator.url,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      // The client-side limiter's default (20/s) would be the whole measurement; the emulator has no limit.
      STRIPE_MAX_REQUESTS_PER_SECOND: process.env.STRIPE_MAX_REQUESTS_PER_SECOND ?? '1000',
      RECONCILE_INTERVAL_MS: '0',
      // Counts SQL statements and Stripe calls, answered on SIGUSR2 (bench/targets/billing-service.ts).
      BENCH_STATS: '1',
    };
    // One after the other: each migrates the shared database at start.
    const target = serviceTarget();
    // The image's heap limits (Dockerfile NODE_OPTIONS): they decide when V8 collects, so the RSS it leads to.
    // BENCH_NODE_ARGS adds V8 flags to try against them (e.g. `--max-semi-space-size=8`), measured like the rest.
    const extraNodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const serviceNodeArgs = [...PRODUCTION_NODE_OPTIONS, ...extraNodeArgs, ...CPU_PROFILE_ARGS];
    const a = await startChild(target, [], env, /READY (\S+)/, serviceNodeArgs);
    children.push(a);
    const b = await startChild(target, [], env, /READY (\S+)/, serviceNodeArgs);
    children.push(b);
    // C only stores and answers (WEBHOOK_WORKERS=0): the ingestion phase's target, its CPU the answer's alone.
    const c = await startChild(target, [], { ...env, WEBHOOK_WORKERS: '0' }, /READY (\S+)/, serviceNodeArgs);
    children.push(c);
    const statsOfA = statsOf(a);
    const statsOfB = statsOf(b);
    const statsOfC = statsOf(c);

    const [price] = (await stripe.prices.list({ lookup_keys: ['price_starter_monthly'] })).data;
    const liveAccount = 'acct_bench_live';
    const live = await subscribedAccount(stripe, liveAccount, price.id);
    const many: Stripe.Subscription[] = [];
    for (let index = 0; index < INGEST_ACCOUNTS; index++)
      many.push(await subscribedAccount(stripe, `acct_bench_${index}`, price.id));

    progress('live-update latency, paced and open loop');
    rows = [
      ...(await measureLatency(a, b, live, liveAccount, true, database.url)),
      ...(await measureLatency(a, b, live, liveAccount, false, database.url)),
    ];
    const [beforeA, beforeB] = [await statsOfA(), await statsOfB()];
    const manyAccounts = many.map((_, index) => `acct_bench_${index}`);
    progress(`steady ${STEADY_RATE} events/s`);
    rows.push(...(await measureSteady(a, b, many, manyAccounts)));
    const [afterA, afterB] = [await statsOfA(), await statsOfB()];
    // The steady phase's count includes its warm-up (one event per account, or a few).
    costs.push(phaseCost('steady 100/s (A: webhooks)', STEADY_EVENTS, beforeA, afterA));
    costs.push(phaseCost('steady 100/s (B: pushes)', STEADY_EVENTS, beforeB, afterB));
    progress('ingestion');
    const ingestion = await measureIngestion(
      c,
      emulator,
      many,
      { a: statsOfA, b: statsOfB, c: statsOfC },
      database.url,
    );
    rows.push(...ingestion.rows);
    costs.push(...ingestion.costs);
    progress('ingestion and processing apart');
    const apart = await measureHalvesApart(
      { a, b, c },
      many,
      { a: statsOfA, b: statsOfB, c: statsOfC },
      database.url,
    );
    rows.push(...apart.rows);
    costs.push(...apart.costs);
    for (const [name, child] of [
      ['emulator', emulator],
      ['instance A', a],
      ['instance B', b],
      ['instance C', c],
    ] as const)
      peaks.push({ name, mib: peakRssMiB(child.process.pid) });
    peaks.push({ name: 'bench (load generator)', mib: peakRssMiB(undefined) });
  } finally {
    for (const child of children.reverse()) await stopChild(child);
    // BENCH_KEEP_DATABASE=1 leaves the database for a look at its tables and statements (EXPLAIN, pg_stat_*).
    if (process.env.BENCH_KEEP_DATABASE === '1') progress(`database kept: ${database.url}`);
    else await database.drop();
  }

  console.log(
    `\n${QUICK ? 'QUICK run: checks that the measurements work; the figures mean nothing' : `${LATENCY_EVENTS} live-update events at ${1000 / LATENCY_INTERVAL_MS}/s; ${INGEST_EVENTS} ingestion events`}` +
      ` — ${cpus().length} CPU (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load ${loadavg()
        .map((value) => value.toFixed(2))
        .join(' ')}\n`,
  );
  console.log(format(rows));
  console.log(`\n${formatCosts(costs)}`);
  console.log(
    `\nPeak RSS (VmHWM), target ≤ 256 MB per service process: ${peaks
      .map((peak) => `${peak.name} ${Number.isNaN(peak.mib) ? '–' : `${peak.mib.toFixed(0)} MiB`}`)
      .join(', ')}`,
  );
  const failures = rows.filter((r) => r.errors > 0 || r.count === 0);
  if (failures.length > 0) {
    console.error(`\nMeasurements with errors: ${failures.map((r) => r.name).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
