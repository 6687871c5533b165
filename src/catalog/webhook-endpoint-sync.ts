import type Stripe from 'stripe';
import { STRIPE_API_VERSION } from '../services/stripe/stripe-api-version';
import { syncKey } from './catalog-keys';

/** What `syncWebhookEndpoint` did to the endpoint at the URL. */
export type WebhookEndpointAction = 'created' | 'updated' | 'unchanged';

export interface WebhookEndpointSyncResult {
  action: WebhookEndpointAction;
  endpoint: Stripe.WebhookEndpoint;
  /** The signing secret (`whsec_…`): Stripe returns it only when it creates the endpoint, so only then. */
  secret: string | null;
  /** Things the operator should know that the sync cannot fix, e.g. an endpoint on another API version. */
  warnings: string[];
}

/** Thrown when the endpoints at the URL are ambiguous: the sync will not guess which one is in use. */
export class WebhookEndpointConflictError extends Error {
  constructor(url: string, ids: string[]) {
    super(
      `Stripe has ${ids.length} webhook endpoints for ${url} (${ids.join(', ')}): each would deliver every ` +
        'event again. Keep the one whose signing secret is STRIPE_WEBHOOK_SECRET, delete the others in the ' +
        'Dashboard (Developers → Webhooks), and run stripe:sync again.',
    );
    this.name = 'WebhookEndpointConflictError';
  }
}

/**
 * Makes exactly one webhook endpoint at `url` exist for `enabledEvents` (the event types the service handles),
 * enabled: `npm run stripe:sync` with STRIPE_WEBHOOK_URL set. Idempotent: an endpoint already at the URL is
 * found by its URL and only its events (or a disabled status) are updated; a second run changes nothing.
 * A new endpoint is created on the service's pinned API version, and only then is its signing secret known.
 */
export async function syncWebhookEndpoint(
  stripe: Stripe,
  url: string,
  enabledEvents: readonly string[],
): Promise<WebhookEndpointSyncResult> {
  const events = [...new Set(enabledEvents)].sort() as Stripe.WebhookEndpointCreateParams.EnabledEvent[];
  const all: Stripe.WebhookEndpoint[] = [];
  for await (const endpoint of stripe.webhookEndpoints.list({ limit: 100 })) all.push(endpoint);
  const atUrl = all.filter((endpoint) => endpoint.url === url);
  if (atUrl.length > 1)
    throw new WebhookEndpointConflictError(
      url,
      atUrl.map((endpoint) => endpoint.id),
    );

  const existing = atUrl[0];
  if (existing) {
    const warnings =
      existing.api_version && existing.api_version !== STRIPE_API_VERSION
        ? [
            `endpoint ${existing.id} renders events in API version ${existing.api_version}, not the service's ` +
              `${STRIPE_API_VERSION}; handlers re-read every object from Stripe, so this is safe, but a new ` +
              'endpoint (created by this command after deleting the old one) would match',
          ]
        : [];
    const sameEvents = [...existing.enabled_events].sort().join() === events.join();
    if (sameEvents && existing.status === 'enabled')
      return { action: 'unchanged', endpoint: existing, secret: null, warnings };
    const updated = await stripe.webhookEndpoints.update(
      existing.id,
      { enabled_events: events, disabled: false },
      // Versioned by the endpoint's current events and status, so a later change is never a replay of this one.
      {
        idempotencyKey: syncKey('webhook-endpoint.update', {
          id: existing.id,
          from: { events: existing.enabled_events, status: existing.status },
          to: events,
        }),
      },
    );
    return { action: 'updated', endpoint: updated, secret: null, warnings };
  }

  // Versioned by the endpoints that exist now: a run after one was deleted by hand must not replay its creation.
  const params: Stripe.WebhookEndpointCreateParams = {
    url,
    enabled_events: events,
    api_version: STRIPE_API_VERSION as Stripe.WebhookEndpointCreateParams.ApiVersion,
    description: 'CODITECT Billing (registered by npm run stripe:sync)',
    metadata: { coditect: 'billing' },
  };
  const existingIds = all.map((endpoint) => endpoint.id).sort();
  let created = await stripe.webhookEndpoints.create(params, {
    idempotencyKey: syncKey('webhook-endpoint.create', { ...params, existing: existingIds }),
  });
  // Stripe replays a key's first answer for 24 hours: the same state as a creation that was since deleted by
  // hand gives the same key, and the answer would be that deleted endpoint. Then it is created anew.
  if (!(await endpointExists(stripe, created.id)))
    created = await stripe.webhookEndpoints.create(params, {
      idempotencyKey: syncKey('webhook-endpoint.create', {
        ...params,
        existing: existingIds,
        replaces: created.id,
      }),
    });
  if (!created.secret)
    throw new Error(`Stripe returned webhook endpoint ${created.id} without its signing secret`);
  return { action: 'created', endpoint: created, secret: created.secret, warnings: [] };
}

async function endpointExists(stripe: Stripe, id: string): Promise<boolean> {
  try {
    await stripe.webhookEndpoints.retrieve(id);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'resource_missing') return false;
    throw error;
  }
}

/** The lines `npm run stripe:sync` prints for the endpoint: the secret, once, with what to do with it. */
export function formatWebhookEndpointResult(result: WebhookEndpointSyncResult): string {
  const { action, endpoint, secret, warnings } = result;
  const lines = [
    `${action.padEnd(9)} webhook endpoint ${endpoint.id} ${endpoint.url} (${endpoint.enabled_events.length} event types)`,
  ];
  if (secret) {
    lines.push(
      '',
      `  Signing secret: ${secret}`,
      '  Stripe shows it only now. Store it in your secret manager as STRIPE_WEBHOOK_SECRET (or a file named',
      '  by STRIPE_WEBHOOK_SECRET_FILE) and roll the service; until then every delivery is refused with 400 and',
      '  Stripe retries it (for up to three days), so nothing is lost.',
    );
  } else if (action === 'updated') {
    lines.push('  Its signing secret is unchanged: keep STRIPE_WEBHOOK_SECRET as it is.');
  }
  for (const warning of warnings) lines.push(`  ⚠ ${warning}`);
  return lines.join('\n');
}
