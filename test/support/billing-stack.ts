import type { DestinationStream } from 'pino';
import type Stripe from 'stripe';
import { isFollowing } from '../../src/services/time/clock';
import { loadPlanCatalog } from '../../src/services/plans/plan-catalog';
import { syncCatalog } from '../../src/catalog/catalog-sync';
import { startTestEmulator, type TestEmulator } from './emulator';
import type { TestDatabase } from './database';
import { startTestService, type TestService } from './service';
import { postWebhook, signEvent } from './webhook-harness';

/** The service (its app, URL, tokens and GraphQL) wired to its own Stripe emulator. */
export interface BillingStack extends TestService {
  stripe: Stripe;
  emulator: TestEmulator;
  /** The webhook endpoint's signing secret (when started with webhooks). */
  webhookSecret: string | null;
  /**
   * Waits until the emulator has delivered every webhook (retries included) and the service processed every
   * event it stored, including the events that processing made Stripe emit (ADR 0020: processing is behind the
   * answer).
   */
  flushWebhooks(): Promise<void>;
  /** Processes every stored webhook event that can be now, and waits for it (see `WebhookQueue.drain`). */
  drainWebhooks(): Promise<void>;
  /**
   * Signs `event` with the endpoint's secret, POSTs it, and waits until the service processed what it queued:
   * the HTTP status, the endpoint's answer (`queued`, `duplicate`) and the event's inbox status after.
   */
  deliverWebhook(event: { id: string }): Promise<DeliveredWebhook>;
  /**
   * Moves the emulator's clock (what time brings in Stripe happens: renewals, trial ends, …) and the service's
   * with it (it follows the emulator's clock).
   */
  advanceClock(seconds: number): Promise<void>;
  /** GraphQL as a signed-in user of `accountId`. */
  as(accountId: string, roles?: Array<'admin' | 'service'>): Promise<GraphQLCaller>;
  stop(): Promise<void>;
}

export interface DeliveredWebhook {
  status: number;
  outcome: string | null;
  /** The inbox row's status once processed (`processed`, `ignored`, `failed`, …), or null if none was stored. */
  settled: string | null;
}

export type GraphQLCaller = <T = Record<string, unknown>>(
  query: string,
  variables?: Record<string, unknown>,
) => Promise<{ data?: T | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }>;

/**
 * The service wired to its own Stripe emulator, with the catalog synced into it. Prices come from the real
 * catalog file, so a test that buys `starter` pays what plans/plans.yaml says.
 */
export async function startBillingStack(
  env: Record<string, string> = {},
  options: { webhooks?: boolean; database?: TestDatabase; logDestination?: DestinationStream } = {},
): Promise<BillingStack> {
  const emulator = await startTestEmulator();
  await seedCatalog(emulator.stripe);
  // The endpoint is registered before the service starts (its secret is configuration), then pointed at it.
  const endpoint = options.webhooks
    ? await emulator.stripe.webhookEndpoints.create({
        url: 'http://127.0.0.1:9/pending',
        enabled_events: ['*'],
      })
    : null;
  const service = await startTestService({
    database: options.database,
    logDestination: options.logDestination,
    env: {
      ...emulator.env,
      ...(endpoint ? { STRIPE_WEBHOOK_SECRET: endpoint.secret as string } : {}),
      ...env,
    },
  });
  if (endpoint)
    await emulator.stripe.webhookEndpoints.update(endpoint.id, { url: `${service.url}/webhooks/stripe` });
  return {
    ...service,
    stripe: emulator.stripe,
    emulator,
    webhookSecret: endpoint?.secret ?? null,
    flushWebhooks: () => settleWebhooks(emulator.url, [service]),
    drainWebhooks: () => drainQueue(service),
    deliverWebhook: async (event) => {
      if (!endpoint) throw new Error('this stack was started without webhooks: { webhooks: true }');
      const answer = await postWebhook(service.url, signEvent(event, endpoint.secret as string));
      await drainQueue(service);
      const [row] = await service.app.orm.em
        .getConnection()
        .execute<Array<{ status: string }>>('select status from webhook_event where stripe_event_id = ?', [
          event.id,
        ]);
      return { ...answer, settled: row?.status ?? null };
    },
    advanceClock: async (seconds) => {
      const response = await fetch(`${emulator.url}/_emulator/clock/advance`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ seconds }),
      });
      if (!response.ok) throw new Error(`clock advance failed: ${response.status} ${await response.text()}`);
      // The service follows the emulator's clock (BILLING_CLOCK=emulator): read it now rather than at the next poll.
      const { clock } = service.app;
      if (isFollowing(clock)) await clock.sync();
    },
    as: async (accountId, roles = []) => {
      const token = await service.token(accountId, { roles, email: `${accountId}@example.com` });
      return (query, variables) => service.graphql(query, { variables, token });
    },
    stop: async () => {
      await service.stop();
      await emulator.close();
    },
  };
}

async function drainQueue(service: TestService): Promise<void> {
  await service.app.webhookQueue?.drain();
}

/**
 * Deliveries, then processing by every instance's queue, until a round stores no new event: processing may call
 * Stripe, whose events are then delivered and processed in the next round. Each round has its deadline (the
 * emulator's flush, the drain).
 */
export async function settleWebhooks(
  emulatorUrl: string,
  instances: readonly TestService[],
  flushTimeoutMs = 20_000,
): Promise<void> {
  const [first] = instances;
  if (!first) return;
  for (let stored = -1, rounds = 0; ; rounds++) {
    if (rounds > 20) throw new Error('webhooks did not settle: every round stored new events');
    const response = await fetch(`${emulatorUrl}/_emulator/webhooks/flush`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ timeout_ms: flushTimeoutMs }),
    });
    if (!response.ok) throw new Error(`webhooks did not settle: ${response.status} ${await response.text()}`);
    await Promise.all(instances.map(drainQueue));
    const [row] = await first.app.orm.em
      .getConnection()
      .execute<Array<{ count: number }>>('select count(*)::int as count from webhook_event');
    if (row?.count === stored) return;
    stored = row?.count ?? 0;
  }
}

/** The catalog, exactly as `npm run stripe:sync` makes it in production. */
async function seedCatalog(stripe: Stripe): Promise<void> {
  await syncCatalog(stripe, loadPlanCatalog());
}
