import type Stripe from 'stripe';
import { type BillingStack, settleWebhooks, startBillingStack } from '../support/billing-stack';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { waitUntil } from '../support/wait';
import {
  answeredEvents,
  deliveries,
  differencesFromStripe,
  aSecondOfOurOwn,
  eventsSince,
  inbox,
  inboxProblems,
  setWebhookMode,
  subscribeThenUpgrade,
} from '../support/webhook-harness';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

/**
 * Issue 8, faults: PostgreSQL goes away in the middle of a burst of webhooks. The shared test server is not
 * ours to restart, so the service reaches it through a TCP proxy the test cuts (every connection dropped, new
 * ones refused) and restores: to the service that is an outage. Events answered 500 during it come back with
 * Stripe's retries (the reconciler is off, so the retries alone must do it) and are processed after it;
 * nothing is lost or applied twice (the database equals the emulator's state, every event stored once); the
 * connection pool recovers by itself and readiness reports the outage, then recovers.
 */

jest.setTimeout(90_000);

const ACCOUNTS = 8;
const OUTAGE_MS = 3000;

interface Readiness {
  status: number;
  body: { status: string; checks: Record<string, string>; failing?: string[] };
}

describe('PostgreSQL unreachable during a burst of webhooks', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let stack: BillingStack;

  beforeAll(async () => {
    database = await createTestDatabase();
    const real = new URL(database.url);
    proxy = await startTcpProxy({ host: real.hostname, port: Number(real.port || 5432) });
    const proxied = new URL(database.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    stack = await startBillingStack(
      { RECONCILE_INTERVAL_MS: '0', WEBHOOK_LEASE_MS: '5000' },
      { webhooks: true, database: { ...database, url: proxied.toString() } },
    );
  });

  afterAll(async () => {
    await proxy?.restore().catch(() => undefined); // a failed test may have left it cut
    await stack?.stop();
    await proxy?.close();
    await database?.drop();
  });

  async function readiness(): Promise<Readiness> {
    const response = await fetch(`${stack.url}/readyz`);
    return { status: response.status, body: (await response.json()) as Readiness['body'] };
  }

  it('processes after the outage every event answered 500 during it: nothing lost, nothing doubled', async () => {
    const emulatorUrl = stack.emulator.url;
    const stripe = stack.stripe;
    const startedAt = await aSecondOfOurOwn(emulatorUrl);
    await setWebhookMode(emulatorUrl, { concurrent: true, retry_schedule_ms: [500, 1000, 2000, 4000, 8000] });

    // The burst: customers subscribing, then upgrading (with an invoice now), as Stripe would emit them.
    const burst = subscribeThenUpgrade(
      stripe,
      Array.from({ length: ACCOUNTS }, (_, index) => `acct_pg_outage_${index}`),
      2,
    );
    const answered = async () => answeredEvents(await deliveries(emulatorUrl)).size;
    await waitUntil(async () => (await answered()) >= 10, 'the service has answered 10 events', 20_000);

    await proxy.cut();
    const cutAt = Date.now();
    // Readiness names the database as down (and does not hang: each check is bounded).
    const down = await readiness();
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({
      status: 'unavailable',
      checks: { database: 'down' },
      failing: ['database'],
    });
    // Deliveries during the outage are answered 500 (they cannot be stored), so Stripe keeps them for a retry.
    await waitUntil(
      async () => (await deliveries(emulatorUrl)).some((attempt) => attempt.response_code === 500),
      'a delivery is answered 500 during the outage',
      10_000,
    );
    await new Promise((done) => setTimeout(done, Math.max(0, OUTAGE_MS - (Date.now() - cutAt))));
    await proxy.restore();

    // The pool reconnects by itself: ready again without a restart of the service.
    await waitUntil(async () => (await readiness()).status === 200, 'ready again', 10_000);
    await burst;
    // Deliveries, then the queue. An event a worker held when the database went away stays `processing` until
    // its lease ends (5 s here): then any worker takes it over.
    await waitUntil(
      async () => {
        await settleWebhooks(emulatorUrl, [stack], 60_000);
        const pending = (await inbox(database.url)).filter(
          (row) => row.status === 'received' || row.status === 'processing',
        );
        return pending.length === 0;
      },
      'every stored event is processed',
      45_000,
    );

    const emitted: Stripe.Event[] = await eventsSince(stripe, startedAt);
    const attempts = await deliveries(emulatorUrl);
    expect(emitted.length).toBeGreaterThanOrEqual(ACCOUNTS * 8);
    const refused = new Set(attempts.filter((a) => a.response_code === 500).map((a) => a.event));
    expect(refused.size).toBeGreaterThan(0);
    // Every event was finally answered 2xx, those refused during the outage included.
    const succeeded = answeredEvents(attempts);
    expect(emitted.filter((event) => !succeeded.has(event.id)).map((event) => event.id)).toEqual([]);
    // Each stored once, processed; and the database equals Stripe's state (read directly, not via the proxy).
    const rows = await inbox(database.url);
    expect(
      inboxProblems(rows, emitted).filter((problem) => !problem.includes('stored but not emitted')),
    ).toEqual([]);
    // The refused ones are among them: processed, or ignored when we have no handler for the type.
    const refusedRows = rows.filter((row) => refused.has(row.stripe_event_id));
    expect(refusedRows).toHaveLength(refused.size);
    expect(refusedRows.filter((row) => row.status !== 'processed' && row.status !== 'ignored')).toEqual([]);
    expect(refusedRows.some((row) => row.status === 'processed')).toBe(true);
    const { problems, compared } = await differencesFromStripe(stripe, database.url);
    expect(problems).toEqual([]);
    expect(compared).toEqual({ customers: ACCOUNTS, subscriptions: ACCOUNTS, invoices: ACCOUNTS * 2 });

    // The service answers from the database again, through new connections.
    const as = await stack.as('acct_pg_outage_0');
    const viewer = await as<{ viewer: { plan: { key: string }; subscription: { status: string } } }>(
      '{ viewer { plan { key } subscription { status } } }',
    );
    expect(viewer.errors).toBeUndefined();
    expect(viewer.data?.viewer).toEqual({
      plan: { key: 'professional' },
      subscription: { status: 'ACTIVE' },
    });
    expect(proxy.accepted).toBeGreaterThan(1);
  });

  it('answers GraphQL during the outage with an error, not a hang, and serves again after it', async () => {
    const as = await stack.as('acct_pg_outage_1');
    await proxy.cut();
    try {
      const started = Date.now();
      const result = await as('{ viewer { plan { key } subscription { status } } }');
      expect(Date.now() - started).toBeLessThan(5000);
      expect(result.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await proxy.restore();
    }
    await waitUntil(async () => (await readiness()).status === 200, 'ready again', 10_000);
    const again = await as<{ viewer: { plan: { key: string } } }>('{ viewer { plan { key } } }');
    expect(again.errors).toBeUndefined();
    expect(again.data?.viewer.plan.key).toBe('professional');
  });
});
