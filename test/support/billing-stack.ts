import type { DestinationStream } from 'pino';
import type Stripe from 'stripe';
import { isFollowing } from '../../src/services/time/clock';
import { loadPlanCatalog } from '../../src/services/plans/plan-catalog';
import { syncCatalog } from '../../src/catalog/catalog-sync';
import { startTestEmulator, type TestEmulator } from './emulator';
import type { TestDatabase } from './database';
import { startTestService, type TestService } from './service';

/** The service (its app, URL, tokens and GraphQL) wired to its own Stripe emulator. */
export interface BillingStack extends TestService {
  stripe: Stripe;
  emulator: TestEmulator;
  /** The webhook endpoint's signing secret (when started with webhooks). */
  webhookSecret: string | null;
  /** Waits until the emulator has delivered every webhook (retries included). */
  flushWebhooks(): Promise<void>;
  /**
   * Moves the emulator's clock (what time brings in Stripe happens: renewals, trial ends, …) and the service's
   * with it (it follows the emulator's clock).
   */
  advanceClock(seconds: number): Promise<void>;
  /** GraphQL as a signed-in user of `accountId`. */
  as(accountId: string, roles?: Array<'admin' | 'service'>): Promise<GraphQLCaller>;
  stop(): Promise<void>;
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
    flushWebhooks: async () => {
      const response = await fetch(`${emulator.url}/_emulator/webhooks/flush`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ timeout_ms: 20_000 }),
      });
      if (!response.ok)
        throw new Error(`webhooks did not settle: ${response.status} ${await response.text()}`);
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

/** The catalog, exactly as `npm run stripe:sync` makes it in production. */
async function seedCatalog(stripe: Stripe): Promise<void> {
  await syncCatalog(stripe, loadPlanCatalog());
}
