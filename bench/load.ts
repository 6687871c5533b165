/**
 * What the benches share: the service as it ships, reading a process's CPU and memory, medians, and the bench
 * accounts and bodies.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { signToken } from '../src/auth/token-signer';

/**
 * The heap settings the image runs with (Dockerfile `NODE_OPTIONS`): V8 otherwise lets the heap grow lazily
 * under load (about 300 MB of RSS for a service that needs 160). Node 24's V8 also lets the young generation
 * grow larger than Node 20's under allocation pressure: semi-spaces capped at 16 MB took 65 MB off the no-op's
 * peak (274 → 207 MB). 8 MB (until 2026-12-07) cost the usage paths 9-22 % more CPU in scavenges and
 * promotions for ~25 MB less RSS (bench/README.md, 2026-12-07 14:42). The service sets its collector's growing
 * factor itself (src/app/heap-tuning.ts).
 */
export const PRODUCTION_NODE_OPTIONS = ['--max-old-space-size=256', '--max-semi-space-size=16'];

/**
 * The service's environment as it ships (production mode, Redis, the default log level and its access log) on a
 * bench database. The Stripe key is required in production; the benches that use this make no Stripe call.
 */
export function shippedEnvironment(databaseUrl: string, jwtSecret: string): Record<string, string> {
  return {
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    AUTH_JWT_SECRET: jwtSecret,
    STRIPE_SECRET_KEY: 'sk_test_bench_no_calls',
  };
}

/** User + system CPU seconds a process has used so far (Linux: /proc/<pid>/stat, in clock ticks of 1/100 s). */
export function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // After the command name: field 14 (utime) and 15 (stime) of the whole line are 12 and 13 here.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0; // the process has gone (a PostgreSQL backend that closed): its CPU is no longer counted
  }
}

/** The pids of every process whose command name is `name` (e.g. `postgres`, `redis-server`). */
export function pidsNamed(name: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The peak resident memory of a process in MB (VmHWM). */
export function peakRssMbOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((candidate) => candidate.startsWith('VmHWM:'));
  return Math.round(Number(line?.replace(/\D+/g, '') ?? 0) / 1024);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Makes `count` bench accounts unlimited (an admin override, as for an enterprise contract), so the usage
 * scenarios measure recording, not refusals; returns their ids.
 */
export async function prepareUsageAccounts(serviceUrl: string, jwtSecret: string, count: number) {
  const admin = await signToken(jwtSecret, {
    accountId: 'bench-admin',
    roles: ['admin'],
    expiresInSeconds: 3600,
  });
  const accounts = Array.from({ length: count }, (_, i) => `acct_bench_${i}`);
  for (const accountId of accounts) {
    const response = await fetch(`${serviceUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({
        query: 'mutation($input: EntitlementOverrideInput!) { setEntitlementOverride(input: $input) }',
        variables: {
          input: { accountId, feature: 'ai_requests', enabled: true, limit: null, note: 'bench' },
        },
      }),
    });
    const result = (await response.json()) as { errors?: unknown[] };
    if (result.errors) throw new Error(`could not prepare ${accountId}: ${JSON.stringify(result.errors)}`);
  }
  return accounts;
}

export const RECORD_USAGE =
  'mutation($input: RecordUsageInput!) { recordUsage(input: $input) { duplicate usage { used remaining } } }';

/** `recordUsage` bodies over `accounts`, each with a fresh idempotency key (a repeat would measure duplicates). */
export function singleRecordBodies(accounts: string[]): () => object {
  const run = randomBytes(4).toString('hex');
  let sequence = 0;
  return () => {
    sequence += 1;
    const accountId = accounts[sequence % accounts.length] as string;
    return {
      query: RECORD_USAGE,
      variables: {
        input: { accountId, metric: 'ai_requests', quantity: 1, idempotencyKey: `${run}-${sequence}` },
      },
    };
  };
}
