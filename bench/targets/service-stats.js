/**
 * BENCH_STATS=1 (bench/webhook-latency.ts): count the SQL statements a service process sends, by verb and table,
 * and print them with the Stripe calls per operation and the memory as one `STATS {json}` line on SIGUSR2, so the
 * bench can take a snapshot before and after a phase and divide by the events it sent. Counted at the `pg`
 * client (every statement MikroORM, knex or raw SQL sends goes through it), not through MikroORM's query logger,
 * which would format every statement with its parameters and cost CPU of its own.
 *
 * Plain JavaScript, so the compiled service (built-service.js) loads it without a compiler in the process.
 */
const statements = new Map();

function countStatement(sql) {
  const verb = /^\s*(\w+)/.exec(sql)?.[1]?.toLowerCase() ?? '?';
  // The table a statement is about: the first one it names after from, into or update.
  const table = /\b(?:from|into|update)\s+"?(\w+)"?/i.exec(sql)?.[1] ?? '';
  const key = table ? `${verb} ${table}` : verb;
  statements.set(key, (statements.get(key) ?? 0) + 1);
}

/** Wraps `pg.Client.prototype.query` (the service's own `pg`) to count what it sends. */
function countStatements(pg) {
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function countedQuery(...args) {
    const [first] = args;
    const text = typeof first === 'string' ? first : first?.text;
    if (typeof text === 'string') countStatement(text);
    return query.apply(this, args);
  };
}

/** On SIGUSR2, prints `STATS {json}`: the statements so far, the Stripe calls, CPU and memory. */
function printStatsOnSignal(app) {
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

module.exports = { countStatements, printStatsOnSignal };
