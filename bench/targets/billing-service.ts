/** The service under test: the full stack (config, auth, context, DataLoaders, database, pub/sub). */
import 'reflect-metadata';
import pg from 'pg';
import { loadProcessConfig } from '../../src/config';
import { createApp } from '../../src/app/create-app';

/**
 * BENCH_STATS=1 (bench/webhook-latency.ts): count the SQL statements this process sends, by verb and table, and
 * print them with the Stripe calls per operation and the memory as one `STATS {json}` line on SIGUSR2, so the
 * bench can take a snapshot before and after a phase and divide by the events it sent. Counted at the `pg`
 * client (every statement MikroORM, knex or raw SQL sends goes through it), not through MikroORM's query
 * logger, which would format every statement with its parameters and cost CPU of its own.
 */
const STATS = process.env.BENCH_STATS === '1';
const statements = new Map<string, number>();

function countStatement(sql: string): void {
  const verb = /^\s*(\w+)/.exec(sql)?.[1]?.toLowerCase() ?? '?';
  // The table a statement is about: the first one it names after from, into or update.
  const table = /\b(?:from|into|update)\s+"?(\w+)"?/i.exec(sql)?.[1] ?? '';
  const key = table ? `${verb} ${table}` : verb;
  statements.set(key, (statements.get(key) ?? 0) + 1);
}

if (STATS) {
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
    const [first] = args;
    const text = typeof first === 'string' ? first : (first as { text?: string } | null)?.text;
    if (typeof text === 'string') countStatement(text);
    return query.apply(this, args);
  } as typeof pg.Client.prototype.query;
}

async function main(): Promise<void> {
  const app = await createApp(loadProcessConfig(), { migrate: true });
  // With its stdout going to a log file (bench/child-process.ts), the ready line goes to stderr instead.
  (process.env.READY_ON_STDERR ? console.error : console.log)(`READY ${await app.start()}`);
  if (STATS) {
    process.on('SIGUSR2', () => {
      const stripeClient = app.services.stripe?.stripe;
      const stripe = stripeClient
        ? Object.fromEntries(
            [...stripeClient.statistics()].map(([operation, stats]) => [operation, stats.calls]),
          )
        : {};
      const memory = process.memoryUsage();
      const cpu = process.cpuUsage();
      console.log(
        `STATS ${JSON.stringify({
          sql: Object.fromEntries(statements),
          stripe,
          cpuMs: (cpu.user + cpu.system) / 1000,
          rss: memory.rss,
          heapUsed: memory.heapUsed,
        })}`,
      );
    });
  }
  process.once('SIGTERM', () => void app.stop().then(() => process.exit(0)));
}

void main();
