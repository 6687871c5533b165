import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type Stripe from 'stripe';
import { loadPlanCatalog } from '../../src/services/plans/plan-catalog';
import { syncCatalog } from '../../src/catalog/catalog-sync';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startTestEmulator, type TestEmulator } from '../support/emulator';
import { freePort } from '../support/free-port';
import { TEST_JWT_SECRET } from '../support/service';
import { waitUntil } from '../support/wait';
import {
  answeredEvents,
  deliveries,
  differencesFromStripe,
  aSecondOfOurOwn,
  eventsSince,
  flushWebhooks,
  inbox,
  inboxProblems,
  setWebhookMode,
  subscribeThenUpgrade,
} from '../support/webhook-harness';

/**
 * Issue 5, "Done when": the service killed with SIGKILL in the middle of a burst of webhooks, then restarted,
 * ends with nothing lost — Stripe's retries bring in every event the dead process never answered. The service
 * runs as a real child process (`src/main.ts`) on a fixed port, so the endpoint registered in the emulator
 * reaches the restarted process. The reconciler is switched off here: this proves the retries alone suffice.
 */

jest.setTimeout(90_000);

const ROOT = resolve(__dirname, '../..');

describe('SIGKILL in the middle of a burst of webhooks', () => {
  let database: TestDatabase;
  let emulator: TestEmulator;
  let child: ChildProcess | null = null;
  let output = '';
  let port = 0;
  let env: Record<string, string> = {};

  async function startChild(): Promise<void> {
    const started = spawn(process.execPath, ['-r', '@swc-node/register', 'src/main.ts'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    started.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    child = started;
    await waitUntil(
      async () => {
        if (started.exitCode !== null)
          throw new Error(`the service exited with ${started.exitCode}:\n${output}`);
        return fetch(`http://127.0.0.1:${port}/readyz`)
          .then((response) => response.ok)
          .catch(() => false);
      },
      'the service answers /readyz',
      30_000,
    );
  }

  async function killChild(): Promise<void> {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((done) => running.once('exit', done));
    running.kill('SIGKILL');
    await exited;
  }

  beforeAll(async () => {
    [database, emulator, port] = await Promise.all([createTestDatabase(), startTestEmulator(), freePort()]);
    await syncCatalog(emulator.stripe, loadPlanCatalog());
    const endpoint = await emulator.stripe.webhookEndpoints.create({
      url: `http://127.0.0.1:${port}/webhooks/stripe`,
      enabled_events: ['*'],
    });
    env = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      DATABASE_URL: database.url,
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      ...emulator.env,
      STRIPE_WEBHOOK_SECRET: endpoint.secret as string,
      RECONCILE_INTERVAL_MS: '0',
      WEBHOOK_LEASE_MS: '5000',
      WEBHOOK_POLL_INTERVAL_MS: '200',
    };
  });

  afterAll(async () => {
    await killChild();
    await emulator?.close();
    await database?.drop();
  });

  it('loses nothing: after the restart every emitted event is processed and the database equals Stripe', async () => {
    await startChild();
    const startedAt = await aSecondOfOurOwn(emulator.url);
    // Deliveries overlap (concurrent) so some are in flight at the kill; the retries span ~30 s, enough for a
    // restart of the process under load.
    await setWebhookMode(emulator.url, {
      concurrent: true,
      retry_schedule_ms: [500, 1000, 2000, 4000, 8000, 15_000],
    });

    const stripe = emulator.stripe;
    // The burst: what Stripe would emit for twelve new customers, each subscribing then upgrading.
    const burst = subscribeThenUpgrade(
      stripe,
      Array.from({ length: 12 }, (_, index) => `acct_crash_${index}`),
      3,
    );

    // Kill once the service has answered some deliveries, with most of the burst's webhooks still to come.
    const answeredSoFar = async () => answeredEvents(await deliveries(emulator.url)).size;
    await waitUntil(async () => (await answeredSoFar()) >= 15, 'the service has answered 15 events', 20_000);
    await killChild();
    const answeredBeforeKill = await answeredSoFar();
    await burst;
    await startChild();
    await flushWebhooks(emulator.url, 60_000);
    // The restarted process's queue processes what was stored; an event the killed one had claimed waits for its
    // lease to end (5 s here), then is taken over (ADR 0020).
    await waitUntil(
      async () =>
        (await inbox(database.url)).every((row) => row.status !== 'received' && row.status !== 'processing'),
      'every stored event is processed',
      45_000,
    );

    const emitted: Stripe.Event[] = await eventsSince(stripe, startedAt);
    const attempts = await deliveries(emulator.url);
    expect(emitted.length).toBeGreaterThanOrEqual(100);
    // The kill hit the middle of the burst: most events were not answered yet, and deliveries failed while the
    // service was down (refused connections, or requests cut off by the kill).
    expect(answeredBeforeKill).toBeLessThan(emitted.length / 2);
    expect(attempts.filter((attempt) => attempt.status === 'failed').length).toBeGreaterThan(0);
    // Nothing was given up: every event was finally answered 2xx.
    const answered = answeredEvents(attempts);
    expect(emitted.filter((event) => !answered.has(event.id)).map((event) => event.id)).toEqual([]);
    expect(inboxProblems(await inbox(database.url), emitted)).toEqual([]);
    const { problems, compared } = await differencesFromStripe(stripe, database.url);
    expect(problems).toEqual([]);
    expect(compared).toEqual({ customers: 12, subscriptions: 12, invoices: 24 });
  });
});
