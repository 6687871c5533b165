import { Client } from 'pg';

/**
 * One reconciler at a time across all instances: a session-level PostgreSQL advisory lock
 * (`pg_try_advisory_lock`) taken on a connection of its own, opened for the run and closed after it.
 *
 * Why this and not `SELECT … FOR UPDATE SKIP LOCKED` on the cursor row: a row lock lives only as long as its
 * transaction, so the run would have to keep a transaction open across every Stripe call it makes — exactly
 * what this service never does. A session lock needs no transaction; it does not take a slot from the ORM's
 * pool; `try` never waits (an instance that loses simply skips its turn); and if the holder crashes, PostgreSQL
 * drops the connection and the lock with it. It needs a direct connection (or a pooler in session mode): a
 * transaction-mode pooler such as PgBouncer's would hand the lock to whichever session comes next.
 */
export class ReconcileLock {
  constructor(
    private readonly databaseUrl: string,
    private readonly name = 'coditect_billing.reconciler',
  ) {}

  /** Runs `work` holding the lock and returns its result; returns `null` without running it if another holds it. */
  async withLock<T>(work: () => Promise<T>): Promise<{ result: T } | null> {
    const client = new Client({ connectionString: this.databaseUrl });
    // A lost connection is the lock's release; it must not crash the process as an unhandled 'error'.
    client.on('error', () => undefined);
    await client.connect();
    try {
      const taken = await client.query<{ locked: boolean }>(
        'select pg_try_advisory_lock(hashtext($1)) as locked',
        [this.name],
      );
      if (!taken.rows[0]?.locked) return null;
      try {
        return { result: await work() };
      } finally {
        // Closing the session releases it too; the explicit unlock only makes that immediate.
        await client.query('select pg_advisory_unlock(hashtext($1))', [this.name]).catch(() => undefined);
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
