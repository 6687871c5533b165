/**
 * The Stripe side of `npm run dev`: the local emulator (when no Stripe key is configured), the catalog sync,
 * and the webhook endpoint that points the emulator at the service. Used by scripts/dev.ts only.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Stripe from 'stripe';
import type { RunningEmulator } from 'stripe-emulator';
import type { CatalogSyncTarget } from '../src/catalog/catalog-sync-sdk';

// The emulator, the sync and the webhook handlers (for their event types) take a few hundred ms each to load.
// They are loaded one at a time, when needed, so PostgreSQL's start-up (its own processes, driven from this
// event loop) moves on in between, and a developer with a real Stripe key never loads the emulator.
const load = {
  emulator: () => require('stripe-emulator') as typeof import('stripe-emulator'),
  plans: () =>
    require('../src/services/plans/plan-catalog') as typeof import('../src/services/plans/plan-catalog'),
  sync: () => require('../src/catalog/catalog-sync') as typeof import('../src/catalog/catalog-sync'),
  sdk: () => require('../src/catalog/catalog-sync-sdk') as typeof import('../src/catalog/catalog-sync-sdk'),
  handlers: () =>
    require('../src/webhooks/handlers/index') as typeof import('../src/webhooks/handlers/index'),
};

function devStripeSdk(target: CatalogSyncTarget): Stripe {
  return load.sdk().createCatalogSyncStripe(target, { appName: 'coditect-billing dev', timeoutMs: 15_000 });
}

/** Lets pending I/O callbacks (PostgreSQL's start-up) run before the next synchronous chunk of work. */
const yieldToIo = () => new Promise<void>((done) => setImmediate(done));

/** Any `sk_test_…` key of 12 characters or more opens the emulator; this one is fixed so tools can reuse it. */
export const DEV_EMULATOR_KEY = 'sk_test_coditect_billing_dev';
export const DEFAULT_EMULATOR_PORT = 12111;
/** Where the endpoint's signing secret is kept: Stripe returns it only when the endpoint is created. */
export const WEBHOOK_SECRET_FILE = 'dev-webhook-secret';
export const EMULATOR_DATA_FILE = 'stripe-emulator.json';

export async function startDevEmulator(dataDir: string, port: number): Promise<RunningEmulator> {
  const { startEmulator } = load.emulator();
  try {
    return await startEmulator({ port, dataFile: join(dataDir, EMULATOR_DATA_FILE) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(
        `the Stripe emulator's port ${port} is taken (another \`npm run dev\` or \`npm run emulator\`?): ` +
          'stop that one, or set STRIPE_EMULATOR_PORT to a free port',
      );
    }
    throw error;
  }
}

/** Runs `syncCatalog` against the configured Stripe and answers its one-line summary. */
export async function syncDevCatalog(target: CatalogSyncTarget): Promise<string> {
  await yieldToIo();
  const stripe = devStripeSdk(target);
  const catalog = load.plans().loadPlanCatalog();
  await yieldToIo();
  const report = await load.sync().syncCatalog(stripe, catalog);
  const { created, updated, archived, unchanged } = report.counts;
  return `${created} created, ${updated} updated, ${archived} archived, ${unchanged} unchanged`;
}

export interface DevWebhookEndpoint {
  id: string;
  secret: string;
  /** True when the endpoint of an earlier run was kept. */
  reused: boolean;
}

interface StoredEndpoint {
  endpoint: string;
  secret: string;
}

/**
 * Makes sure exactly one webhook endpoint with `url` exists, for the event types the service handles, and
 * answers its signing secret. The secret comes back from Stripe only on create, so it is kept (with the
 * endpoint's id) in `<dataDir>/dev-webhook-secret`: a restart reuses the endpoint when it and the file are
 * both there, and otherwise deletes whatever endpoints carry `url` and creates a fresh one.
 */
export async function ensureDevWebhookEndpoint(
  target: CatalogSyncTarget,
  url: string,
  dataDir: string,
): Promise<DevWebhookEndpoint> {
  const stripe = devStripeSdk(target);
  const file = join(dataDir, WEBHOOK_SECRET_FILE);
  const stored = readStoredEndpoint(file);
  const endpoints = await listAllEndpoints(stripe);
  const ours = endpoints.filter((endpoint) => endpoint.url === url);
  await yieldToIo();
  const enabledEvents = [
    ...load.handlers().HANDLED_EVENT_TYPES,
  ].sort() as Stripe.WebhookEndpointCreateParams.EnabledEvent[];

  const kept = stored && ours.length === 1 && ours[0]?.id === stored.endpoint ? ours[0] : null;
  if (kept && stored) {
    // Same endpoint; a new handler since the last run only widens the events it receives.
    if ([...kept.enabled_events].sort().join() !== enabledEvents.join() || kept.status !== 'enabled')
      await stripe.webhookEndpoints.update(kept.id, { enabled_events: enabledEvents, disabled: false });
    return { id: kept.id, secret: stored.secret, reused: true };
  }

  // Stale: endpoints at our URL whose secret we lost, and ours of an earlier run on another port.
  const stale = endpoints.filter((endpoint) => endpoint.url === url || endpoint.id === stored?.endpoint);
  for (const endpoint of stale) await stripe.webhookEndpoints.del(endpoint.id);
  const created = await stripe.webhookEndpoints.create({
    url,
    enabled_events: enabledEvents,
    description: 'npm run dev: the local CODITECT Billing service',
  });
  if (!created.secret) throw new Error(`Stripe returned webhook endpoint ${created.id} without its secret`);
  const record: StoredEndpoint = { endpoint: created.id, secret: created.secret };
  writeFileSync(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return { id: created.id, secret: created.secret, reused: false };
}

function readStoredEndpoint(file: string): StoredEndpoint | null {
  if (!existsSync(file)) return null;
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'endpoint' in parsed &&
      'secret' in parsed &&
      typeof parsed.endpoint === 'string' &&
      typeof parsed.secret === 'string' &&
      parsed.secret.startsWith('whsec_')
    )
      return { endpoint: parsed.endpoint, secret: parsed.secret };
  } catch {
    // A damaged file is as good as none: the endpoint is made again.
  }
  return null;
}

async function listAllEndpoints(stripe: Stripe): Promise<Stripe.WebhookEndpoint[]> {
  const endpoints: Stripe.WebhookEndpoint[] = [];
  for await (const endpoint of stripe.webhookEndpoints.list({ limit: 100 })) endpoints.push(endpoint);
  return endpoints;
}
