import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Stripe from 'stripe';
import { DEV_EMULATOR_KEY } from '../../scripts/dev-stripe';
import { HANDLED_EVENT_TYPES } from '../../src/webhooks/handlers/index';
import { waitUntil } from '../support/wait';
import { connectSocket, subscribe } from '../support/ws-client';

const ROOT = resolve(__dirname, '../..');
/** The newcomer's promise: `npm run dev` is ready within this, cold or warm. */
const READY_WITHIN_MS = 15_000;

function portIsOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      done(true);
    });
    socket.on('error', () => done(false));
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/**
 * Three free consecutive ports, below Linux's ephemeral range (32768–60999): a port in that range may be taken
 * at any moment by the local end of some outgoing connection (another test's database client, say).
 */
async function freePorts(): Promise<[number, number, number]> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const first = 20_000 + Math.floor(Math.random() * 4000) * 3;
    const ports: [number, number, number] = [first, first + 1, first + 2];
    if ((await Promise.all(ports.map(canListen))).every(Boolean)) return ports;
  }
  throw new Error('found no three free ports');
}

/** One `npm run dev` (the supervisor, in its own process group with everything it starts). */
interface DevRun {
  process: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  hasExited(): boolean;
}

function startDev(env: Record<string, string>): DevRun {
  let output = '';
  let exited = false;
  // detached: its own process group, so a failed test can kill the service and PostgreSQL with it.
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'scripts/dev.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    detached: true,
  });
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exitedPromise = new Promise<number | null>((done) =>
    child.once('exit', (code) => {
      exited = true;
      done(code);
    }),
  );
  return { process: child, output: () => output, exited: exitedPromise, hasExited: () => exited };
}

async function waitForReady(run: DevRun): Promise<number> {
  const started = Date.now();
  await waitUntil(
    () => run.output().includes('CODITECT Billing is ready') || run.hasExited(),
    'npm run dev is ready',
    READY_WITHIN_MS,
  ).catch((error) => {
    throw new Error(`${(error as Error).message}; it printed:\n${run.output()}`);
  });
  if (run.hasExited()) throw new Error(`npm run dev exited during start-up; it printed:\n${run.output()}`);
  return Date.now() - started;
}

/** Ctrl-C, then a deadline for the supervisor to stop everything and exit. */
async function interrupt(run: DevRun, timeoutMs = 20_000): Promise<number | null> {
  if (!run.hasExited()) run.process.kill('SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`npm run dev did not exit within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([run.exited, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whatever is left of a run's process group (service, PostgreSQL), killed. */
function killGroup(run: DevRun): void {
  if (run.process.pid === undefined) return;
  try {
    process.kill(-run.process.pid, 'SIGKILL');
  } catch {
    // nothing left
  }
}

/**
 * The newcomer's path: `npm run dev` with no environment at all starts an embedded PostgreSQL and the Stripe
 * emulator (catalog synced, webhook endpoint registered), migrates, serves GraphQL and prints a development
 * token within 15 seconds; a checkout paid on the emulator reaches the service through the webhook alone.
 */
describe('npm run dev with no environment', () => {
  let port = 0;
  let postgresPort = 0;
  let emulatorPort = 0;
  let serviceUrl = '';
  let emulatorUrl = '';
  let webhookUrl = '';
  let env: Record<string, string> = {};
  let stripe: Stripe;
  // PostgreSQL runs as the postgres user when we are root: it must be able to enter the folder.
  const dataDir = mkdtempSync(join(tmpdir(), 'billing-dev-'));
  chmodSync(dataDir, 0o755);

  beforeAll(async () => {
    [port, postgresPort, emulatorPort] = await freePorts();
    serviceUrl = `http://127.0.0.1:${port}`;
    emulatorUrl = `http://127.0.0.1:${emulatorPort}`;
    webhookUrl = `${serviceUrl}/webhooks/stripe`;
    env = {
      PORT: String(port),
      DEV_POSTGRES_PORT: String(postgresPort),
      STRIPE_EMULATOR_PORT: String(emulatorPort),
      DEV_DATA_DIR: dataDir,
    };
    stripe = new Stripe(DEV_EMULATOR_KEY, {
      host: '127.0.0.1',
      port: emulatorPort,
      protocol: 'http',
      maxNetworkRetries: 0,
    });
  });
  const runs: DevRun[] = [];
  let run: DevRun;
  let token = '';
  /** Facts from the cold run that the warm run must still show. */
  const cold = { endpointId: '', subscriptionId: '' };

  const graphql = async <T>(query: string): Promise<{ data?: T; errors?: unknown[] }> => {
    const response = await fetch(`${serviceUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    return (await response.json()) as { data?: T; errors?: unknown[] };
  };
  const ourEndpoints = async () =>
    (await stripe.webhookEndpoints.list({ limit: 100 })).data.filter(
      (endpoint) => endpoint.url === webhookUrl,
    );

  /** A failure also shows what `npm run dev` printed (a service error, or a restart for a change in src/). */
  const explained = (test: () => Promise<void>) => async () => {
    try {
      await test();
    } catch (error) {
      if (error instanceof Error && run)
        error.message += `\n--- npm run dev printed (the end):\n${run.output().slice(-4000)}`;
      throw error;
    }
  };

  afterAll(async () => {
    // Even when an assertion failed: Ctrl-C first (the emulator saves, PostgreSQL shuts down cleanly), then
    // kill whatever is left of every run's process group.
    for (const each of runs) {
      await interrupt(each).catch(() => undefined);
      killGroup(each);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it(
    'cold: is ready within 15 s, names the emulator, answers GraphQL, and has synced the catalog into the emulator',
    explained(async () => {
      run = startDev(env);
      runs.push(run);
      await waitForReady(run);
      const output = run.output();
      expect(output).toMatch(new RegExp(`Stripe emulator +${emulatorUrl}/`));
      expect(output).toMatch(/Stripe catalog synced: [1-9]\d* created/);
      expect(output).toContain(`the emulator delivers to ${webhookUrl}`);

      token = /Authorization: Bearer (\S+)/.exec(output)?.[1] ?? '';
      expect(token).not.toBe('');
      expect(await graphql('{ __typename viewer { id } }')).toEqual({
        data: { __typename: 'Query', viewer: { id: 'acct_demo' } },
      });
      expect((await fetch(`${serviceUrl}/readyz`)).status).toBe(200);
      expect(await portIsOpen(postgresPort)).toBe(true);

      const plans = await graphql<{ plans: Array<{ key: string; prices: Array<{ lookupKey: string }> }> }>(
        '{ plans { key prices { lookupKey } } }',
      );
      const starter = plans.data?.plans.find((plan) => plan.key === 'starter');
      expect(starter?.prices.map((price) => price.lookupKey)).toContain('price_starter_monthly');
      const prices = await stripe.prices.list({ lookup_keys: ['price_starter_monthly'] });
      expect(prices.data).toHaveLength(1);
      expect(prices.data[0]).toMatchObject({ lookup_key: 'price_starter_monthly', active: true });

      const endpoints = await ourEndpoints();
      expect(endpoints).toHaveLength(1);
      expect([...(endpoints[0]?.enabled_events ?? [])].sort()).toEqual([...HANDLED_EVENT_TYPES].sort());
      cold.endpointId = endpoints[0]?.id ?? '';
      expect(JSON.parse(readFileSync(join(dataDir, 'dev-webhook-secret'), 'utf8'))).toMatchObject({
        endpoint: cold.endpointId,
        secret: expect.stringMatching(/^whsec_/),
      });
    }),
    40_000,
  );

  it(
    'checkout paid on the emulator → webhooks → ACTIVE professional with its entitlements, pushed live',
    explained(async () => {
      expect(token).not.toBe('');
      const client = connectSocket(serviceUrl, `Bearer ${token}`);
      type Update = {
        accountUpdated: { id: string; plan: { key: string }; subscription: { status: string } | null };
      };
      const updates = subscribe<Update>(
        client,
        'subscription { accountUpdated { id plan { key } subscription { status } } }',
      );
      try {
        // Proof that the subscriber is listening before anything is paid: a change of our own reaches it.
        const listening = Date.now() + 10_000;
        for (;;) {
          const changed = await graphql('mutation { updateCustomer(input: { name: "Demo GmbH" }) { id } }');
          expect(changed.errors).toBeUndefined();
          const first = await updates.next(1000).catch(() => null);
          if (first) {
            expect(first.accountUpdated).toMatchObject({ id: 'acct_demo', plan: { key: 'free' } });
            break;
          }
          if (Date.now() > listening)
            throw new Error('the accountUpdated subscriber never received anything');
        }

        const created = await graphql<{ createCheckoutSession: { id: string; url: string } }>(
          `mutation { createCheckoutSession(input: { planKey: "professional", interval: MONTH, successUrl: "${serviceUrl}/billing/success", cancelUrl: "${serviceUrl}/billing" }) { id url } }`,
        );
        expect(created.errors).toBeUndefined();
        const session = created.data?.createCheckoutSession;
        expect(session?.url.startsWith(`${emulatorUrl}/`)).toBe(true);

        const paid = await fetch(`${emulatorUrl}/_emulator/checkout/sessions/${session?.id}/complete`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ card: '4242424242424242' }),
        });
        expect(paid.status).toBe(200);

        // Only the webhooks can tell the service: nothing here reads the session back through the API.
        type Viewer = {
          viewer: {
            subscription: { id: string; status: string } | null;
            plan: { key: string };
            entitlements: Array<{ feature: string; enabled: boolean }>;
          };
        };
        let viewer: Viewer['viewer'] | undefined;
        await waitUntil(
          async () => {
            viewer = (
              await graphql<Viewer>(
                '{ viewer { subscription { id status } plan { key } entitlements { feature enabled } } }',
              )
            ).data?.viewer;
            return viewer?.subscription?.status === 'ACTIVE';
          },
          'viewer.subscription is ACTIVE',
          20_000,
        );
        expect(viewer?.plan.key).toBe('professional');
        expect(viewer?.entitlements).toContainEqual({ feature: 'team_collaboration', enabled: true });
        cold.subscriptionId = viewer?.subscription?.id ?? '';

        const live = Date.now() + 20_000;
        let update: Update | null = null;
        while (update?.accountUpdated.subscription?.status !== 'ACTIVE') {
          const remaining = live - Date.now();
          if (remaining <= 0) throw new Error('no live accountUpdated showed the ACTIVE subscription');
          update = await updates.next(remaining);
        }
        expect(update.accountUpdated).toMatchObject({ id: 'acct_demo', plan: { key: 'professional' } });
        expect(updates.errors).toEqual([]);

        // Through the webhook: the emulator delivered the checkout's events to our endpoint and they were taken.
        await waitUntil(
          async () => {
            const deliveries = (await (
              await fetch(`${emulatorUrl}/_emulator/webhooks/deliveries?type=checkout.session.completed`)
            ).json()) as { data: Array<{ url: string; status: string }> };
            return deliveries.data.some((each) => each.url === webhookUrl && each.status === 'succeeded');
          },
          'checkout.session.completed was delivered to the service and answered 2xx',
          20_000,
        );
      } finally {
        updates.close();
        await client.dispose();
      }
    }),
    60_000,
  );

  it(
    'Ctrl-C stops the service, the emulator (saving its data) and PostgreSQL',
    explained(async () => {
      expect(await interrupt(run)).toBe(0);
      await waitUntil(
        async () => !(await portIsOpen(postgresPort)),
        'the embedded PostgreSQL has stopped',
        10_000,
      );
      expect(await portIsOpen(port)).toBe(false);
      expect(await portIsOpen(emulatorPort)).toBe(false);
      const saved = join(dataDir, 'stripe-emulator.json');
      expect(existsSync(saved)).toBe(true);
      expect(readFileSync(saved, 'utf8')).toContain(cold.subscriptionId || 'a subscription id');
    }),
    30_000,
  );

  it(
    'warm: is ready within 15 s, keeps the webhook endpoint, and the subscription is still there',
    explained(async () => {
      run = startDev(env);
      runs.push(run);
      await waitForReady(run);
      const output = run.output();
      expect(output).toContain(`endpoint ${cold.endpointId}, kept from the last run`);
      expect(output).toMatch(/Stripe catalog synced: 0 created, 0 updated, 0 archived, [1-9]\d* unchanged/);

      const endpoints = await ourEndpoints();
      expect(endpoints.map((endpoint) => endpoint.id)).toEqual([cold.endpointId]);

      const viewer = await graphql<{ viewer: { subscription: { id: string; status: string } | null } }>(
        '{ viewer { subscription { id status } } }',
      );
      expect(viewer.data?.viewer.subscription).toEqual({ id: cold.subscriptionId, status: 'ACTIVE' });
      expect(cold.subscriptionId).not.toBe('');
      expect((await stripe.subscriptions.retrieve(cold.subscriptionId)).status).toBe('active');

      expect(await interrupt(run)).toBe(0);
      await waitUntil(
        async () => !(await portIsOpen(postgresPort)) && !(await portIsOpen(emulatorPort)),
        'PostgreSQL and the emulator have stopped',
        10_000,
      );
      expect(await portIsOpen(port)).toBe(false);
    }),
    60_000,
  );
});
