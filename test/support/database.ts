import { randomBytes } from 'node:crypto';
import { databaseUrl, withAdminClient } from './postgres-server';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own for one test file (cloned from the run's template). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_POSTGRES_SERVER_URL;
  const template = process.env.TEST_TEMPLATE_DATABASE;
  if (!serverUrl || !template)
    throw new Error('jest global setup did not run: no test PostgreSQL server is known');
  const name = `billing_test_${process.env.JEST_WORKER_ID ?? '0'}_${randomBytes(4).toString('hex')}`;
  await withRetry(() =>
    withAdminClient(serverUrl, (client) => client.query(`create database "${name}" template "${template}"`)),
  );
  return {
    url: databaseUrl(serverUrl, name),
    name,
    drop: () =>
      withAdminClient(serverUrl, (client) =>
        client.query(`drop database if exists "${name}" with (force)`),
      ).then(() => undefined),
  };
}

/** Two workers cloning the template at the same instant can collide ("being accessed by other users"). */
async function withRetry<T>(work: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const busy = error instanceof Error && /being accessed by other users/.test(error.message);
      if (!busy || attempt >= attempts) throw error;
      await new Promise((done) => setTimeout(done, 50 + Math.random() * 150));
    }
  }
}
