import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type Stripe from 'stripe';
import { ConfigError, readWebhookEndpointUrl } from '../../src/config';
import { STRIPE_API_VERSION } from '../../src/services/stripe/stripe-api-version';
import {
  formatWebhookEndpointResult,
  syncWebhookEndpoint,
  WebhookEndpointConflictError,
} from '../../src/catalog/webhook-endpoint-sync';
import { COLLECTIONS } from 'stripe-emulator';
import { HANDLED_EVENT_TYPES } from '../../src/webhooks/handlers';
import { startTestEmulator, TEST_STRIPE_KEY, type TestEmulator } from '../support/emulator';
import { type ChildResult, outputOf } from '../support/child-output';

const ROOT = resolve(__dirname, '../..');
const URL = 'https://billing.coditect.example/webhooks/stripe';
const HANDLED = [...HANDLED_EVENT_TYPES].sort();

async function endpoints(stripe: Stripe): Promise<Stripe.WebhookEndpoint[]> {
  return (await stripe.webhookEndpoints.list({ limit: 100 })).data;
}

describe('syncWebhookEndpoint against the emulator', () => {
  let target: TestEmulator;

  beforeEach(async () => {
    target = await startTestEmulator();
  });

  afterEach(async () => {
    await target.close();
  });

  it('creates the endpoint for the handled events on the pinned API version, then changes nothing', async () => {
    const first = await syncWebhookEndpoint(target.stripe, URL, HANDLED_EVENT_TYPES);
    expect(first.action).toBe('created');
    expect(first.secret).toMatch(/^whsec_/);
    expect(first.endpoint).toMatchObject({ url: URL, api_version: STRIPE_API_VERSION, status: 'enabled' });
    expect([...first.endpoint.enabled_events].sort()).toEqual(HANDLED);
    expect(formatWebhookEndpointResult(first)).toContain(`Signing secret: ${first.secret}`);
    expect(formatWebhookEndpointResult(first)).toContain('STRIPE_WEBHOOK_SECRET');

    const second = await syncWebhookEndpoint(target.stripe, URL, HANDLED_EVENT_TYPES);
    expect(second).toMatchObject({ action: 'unchanged', secret: null, warnings: [] });
    expect(second.endpoint.id).toBe(first.endpoint.id);
    expect(formatWebhookEndpointResult(second)).not.toContain('whsec_');
    expect(await endpoints(target.stripe)).toHaveLength(1);
  });

  it('updates the events of an endpoint already at the URL, re-enables it, and leaves other URLs alone', async () => {
    const other = await target.stripe.webhookEndpoints.create({
      url: 'https://elsewhere.example/hook',
      enabled_events: ['charge.succeeded'],
    });
    const byHand = await target.stripe.webhookEndpoints.create({
      url: URL,
      enabled_events: ['invoice.paid'],
    });
    await target.stripe.webhookEndpoints.update(byHand.id, { disabled: true });

    const result = await syncWebhookEndpoint(target.stripe, URL, HANDLED_EVENT_TYPES);
    expect(result).toMatchObject({ action: 'updated', secret: null });
    expect(formatWebhookEndpointResult(result)).toContain('signing secret is unchanged');
    const after = await target.stripe.webhookEndpoints.retrieve(byHand.id);
    expect(after.status).toBe('enabled');
    expect([...after.enabled_events].sort()).toEqual(HANDLED);
    expect((await target.stripe.webhookEndpoints.retrieve(other.id)).enabled_events).toEqual([
      'charge.succeeded',
    ]);
    expect(await endpoints(target.stripe)).toHaveLength(2);

    // A handler added later only widens the events; the endpoint (and its secret) stay.
    const widened = await syncWebhookEndpoint(target.stripe, URL, [
      ...HANDLED_EVENT_TYPES,
      'invoice.upcoming',
    ]);
    expect(widened.action).toBe('updated');
    expect(widened.endpoint.id).toBe(byHand.id);
    expect(widened.endpoint.enabled_events).toContain('invoice.upcoming');
  });

  it('creates a new endpoint when the one it created was deleted by hand, not a replay of the old one', async () => {
    const first = await syncWebhookEndpoint(target.stripe, URL, HANDLED_EVENT_TYPES);
    await target.stripe.webhookEndpoints.del(first.endpoint.id);

    const again = await syncWebhookEndpoint(target.stripe, URL, HANDLED_EVENT_TYPES);
    expect(again.action).toBe('created');
    expect(again.endpoint.id).not.toBe(first.endpoint.id);
    expect(again.secret).not.toBe(first.secret);
    expect((await endpoints(target.stripe)).map((endpoint) => endpoint.id)).toEqual([again.endpoint.id]);
  });

  it('refuses to choose between two endpoints at the URL', async () => {
    for (let i = 0; i < 2; i += 1)
      await target.stripe.webhookEndpoints.create({ url: URL, enabled_events: ['invoice.paid'] });
    await expect(syncWebhookEndpoint(target.stripe, URL, HANDLED_EVENT_TYPES)).rejects.toThrow(
      WebhookEndpointConflictError,
    );
    expect(await endpoints(target.stripe)).toHaveLength(2);
  });
});

describe('npm run stripe:sync with STRIPE_WEBHOOK_URL', () => {
  let target: TestEmulator;

  beforeAll(async () => {
    target = await startTestEmulator();
  });

  afterAll(async () => {
    await target.close();
  });

  /** The script from an empty directory, so a developer's .env cannot supply a setting. */
  function runSync(env: Record<string, string>): Promise<ChildResult> {
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', `${ROOT}/scripts/stripe-sync.ts`, `${ROOT}/plans/plans.yaml`],
      {
        cwd: `${ROOT}/test/support/empty-cwd`,
        env: {
          PATH: process.env.PATH ?? '',
          NODE_PATH: `${ROOT}/node_modules`,
          SWC_NODE_PROJECT: `${ROOT}/tsconfig.json`,
          ...env,
        },
      },
    );
    return outputOf(child, 'stripe:sync', 30_000);
  }

  it('registers the endpoint and prints its secret once, with what to do with it', async () => {
    const env = { STRIPE_SECRET_KEY: TEST_STRIPE_KEY, STRIPE_API_BASE: target.url, STRIPE_WEBHOOK_URL: URL };
    const first = await runSync(env);
    expect(first.code).toBe(0);
    const [endpoint] = await endpoints(target.stripe);
    expect(first.output).toContain(`created   webhook endpoint ${endpoint?.id} ${URL}`);
    const secret = /Signing secret: (whsec_\w+)/.exec(first.output)?.[1];
    expect(target.emulator.store.get(COLLECTIONS.webhookSecret, endpoint?.id ?? '')).toMatchObject({
      secret,
    });
    expect(first.output).toContain('as STRIPE_WEBHOOK_SECRET');

    const second = await runSync(env);
    expect(second.code).toBe(0);
    expect(second.output).toContain(`unchanged webhook endpoint ${endpoint?.id}`);
    expect(second.output).not.toContain('whsec_');
    expect(await endpoints(target.stripe)).toHaveLength(1);
  }, 90_000);
});

describe('readWebhookEndpointUrl', () => {
  it('is null when unset, the URL when set, and refuses http with a live key', () => {
    expect(readWebhookEndpointUrl({})).toBeNull();
    expect(readWebhookEndpointUrl({ STRIPE_WEBHOOK_URL: '' })).toBeNull();
    expect(readWebhookEndpointUrl({ STRIPE_WEBHOOK_URL: URL, STRIPE_SECRET_KEY: 'sk_live_abc123' })).toBe(
      URL,
    );
    expect(() => readWebhookEndpointUrl({ STRIPE_WEBHOOK_URL: 'not a url' })).toThrow(
      /STRIPE_WEBHOOK_URL must be the public URL/,
    );
    expect(() =>
      readWebhookEndpointUrl({
        STRIPE_WEBHOOK_URL: 'http://billing.internal/webhooks/stripe',
        STRIPE_SECRET_KEY: 'sk_live_abc123',
      }),
    ).toThrow(ConfigError);
  });
});
