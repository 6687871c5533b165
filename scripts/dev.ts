/**
 * `npm run dev`: everything a newcomer needs, with no setup. It supervises the infrastructure (an embedded
 * PostgreSQL when DATABASE_URL is unset; the in-process pub/sub when REDIS_URL is unset) and runs the service
 * as a child under `node --watch`, so a code change restarts the service but not the database.
 */
import 'reflect-metadata';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { signToken } from '../src/auth/token-signer';
import { processEnvironment } from '../src/config';

const ROOT = resolve(__dirname, '..');
const DATA_DIR = resolve(ROOT, processEnvironment().DEV_DATA_DIR ?? '.data');
const DEMO_ACCOUNT = 'acct_demo';

interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

// A real dynamic import, which the TypeScript-to-CommonJS compilers would otherwise turn into require().
const importModule = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<unknown>;

async function startPostgres(port: number): Promise<EmbeddedPostgres> {
  const module = (await importModule(join(ROOT, 'scripts', 'embedded-postgres.mjs'))) as {
    startEmbeddedPostgres(options: { dataDir: string; port: number }): Promise<EmbeddedPostgres>;
  };
  return module.startEmbeddedPostgres({ dataDir: join(DATA_DIR, 'postgres'), port });
}

/** A development-only signing secret, made once and kept in .data so printed tokens survive restarts. */
function developmentJwtSecret(): string {
  const file = join(DATA_DIR, 'dev-jwt-secret');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

async function main(): Promise<void> {
  const started = Date.now();
  mkdirSync(DATA_DIR, { recursive: true });
  const environment = processEnvironment();
  const childEnvironment: Record<string, string | undefined> = { ...process.env, NODE_ENV: 'development' };
  const cleanups: Array<() => Promise<void>> = [];

  if (!environment.DATABASE_URL && !environment.DATABASE_URL_FILE) {
    const port = Number(environment.DEV_POSTGRES_PORT ?? 54329);
    const postgres = await startPostgres(port);
    cleanups.push(() => postgres.stop());
    childEnvironment.DATABASE_URL = postgres.url;
    console.log(`• PostgreSQL (embedded) on 127.0.0.1:${port}, data in ${join(DATA_DIR, 'postgres')}`);
  }
  if (!environment.REDIS_URL && !environment.REDIS_URL_FILE) {
    console.log('• REDIS_URL is unset: live updates use the in-process pub/sub (one instance only)');
  }
  const jwtSecret = environment.AUTH_JWT_SECRET ?? developmentJwtSecret();
  childEnvironment.AUTH_JWT_SECRET = jwtSecret;

  const port = Number(environment.PORT ?? 4000);
  const child: ChildProcess = spawn(
    process.execPath,
    ['--watch-path=src', '--watch-path=plans', '--watch', '-r', '@swc-node/register', 'src/main.ts'],
    { cwd: ROOT, env: childEnvironment, stdio: 'inherit' },
  );

  const stopAll = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((done) => child.once('exit', done));
    }
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(0)));

  const graphqlUrl = `http://127.0.0.1:${port}/graphql`;
  try {
    await waitForReady(`http://127.0.0.1:${port}/readyz`, child);
  } catch (error) {
    await stopAll();
    throw error;
  }
  const userToken = await signToken(jwtSecret, {
    accountId: DEMO_ACCOUNT,
    email: 'demo@coditect.ai',
    expiresInSeconds: 30 * 24 * 3600,
  });
  const adminToken = await signToken(jwtSecret, {
    accountId: 'acct_admin',
    roles: ['admin'],
    expiresInSeconds: 30 * 24 * 3600,
  });
  console.log(`
CODITECT Billing is ready in ${((Date.now() - started) / 1000).toFixed(1)} s
  GraphQL        ${graphqlUrl}
  Apollo Sandbox ${graphqlUrl}  (open it in a browser)
  Subscriptions  ws://127.0.0.1:${port}/graphql

Paste into Sandbox's Headers tab (demo account ${DEMO_ACCOUNT}, valid 30 days):
  Authorization: Bearer ${userToken}

Admin token:
  Authorization: Bearer ${adminToken}
`);
}

async function waitForReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error('the service exited during start-up; see the messages above');
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`the service was not ready within 60 s at ${url}`);
}

main().catch((error: unknown) => {
  console.error('npm run dev failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
