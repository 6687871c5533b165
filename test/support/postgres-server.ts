import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { execFileSync } from 'node:child_process';

export const LOCAL_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
}
let embedded: EmbeddedServer | null = null;

const importModule = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<unknown>;

/** No PostgreSQL around: start a throw-away embedded one for this run. */
export async function startEmbeddedPostgresForTests(): Promise<string> {
  const module = (await importModule(resolve(__dirname, '../../scripts/embedded-postgres.mjs'))) as {
    startEmbeddedPostgres(options: {
      dataDir: string;
      port: number;
      persistent: boolean;
    }): Promise<EmbeddedServer>;
  };
  const dataDir = mkdtempSync(join(tmpdir(), 'billing-test-pg-'));
  chmodSync(dataDir, 0o755); // as root, PostgreSQL runs as the postgres user, who must enter the folder
  embedded = await module.startEmbeddedPostgres({
    dataDir,
    port: 20000 + Math.floor(Math.random() * 20000),
    persistent: false,
  });
  return embedded.url;
}

export async function stopEmbeddedPostgresForTests(): Promise<void> {
  await embedded?.stop();
  embedded = null;
}

export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withAdminClient<T>(
  serverUrl: string,
  work: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A database with every migration applied; each test file clones it, which is much faster than migrating. */
export async function createTemplateDatabase(serverUrl: string): Promise<string> {
  const name = `billing_template_${randomBytes(4).toString('hex')}`;
  await withAdminClient(serverUrl, (client) => client.query(`create database "${name}"`));
  // Migrated in a child process: MikroORM metadata made in jest's setup realm breaks in the test realm
  // (mikro-orm/mikro-orm#3783), and this also proves `npm run db:migrate` itself works.
  execFileSync(process.execPath, ['-r', '@swc-node/register', 'scripts/db.ts', 'up'], {
    cwd: resolve(__dirname, '../..'),
    env: { ...process.env, DATABASE_URL: databaseUrl(serverUrl, name) },
    stdio: 'pipe',
  });
  return name;
}

export async function dropTemplateDatabase(serverUrl: string, name: string): Promise<void> {
  await withAdminClient(serverUrl, (client) =>
    client.query(`drop database if exists "${name}" with (force)`),
  );
}
