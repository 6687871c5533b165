import type Stripe from 'stripe';
import { type WebhookSecretRecord } from '../core/emulator';
import { invalidRequest, missingParam } from '../core/errors';
import type { ApiRequest, Route } from '../core/http';
import { newId, randomBase62 } from '../core/ids';
import { paginate } from '../core/list';
import type { ParamReader } from '../core/params';
import { rememberDeleted } from './common';
import { WEBHOOK_EVENT_TYPES } from './webhook-event-types';
import { COLLECTIONS } from '../core/collections';

function readUrl(input: ParamReader): string {
  const url = input.reqStr('url');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidRequest('Invalid URL: must be a valid http(s) URL.', 'url', 'url_invalid');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalidRequest('Invalid URL: must be a valid http(s) URL.', 'url', 'url_invalid');
  }
  return url;
}

const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set(WEBHOOK_EVENT_TYPES);

/**
 * `enabled_events`: `'*'` or Stripe's event types, nothing else (no `customer.*` prefixes). An
 * unknown name is refused the way Stripe refuses it: 400 `invalid_request_error`, param
 * `enabled_events[i]`, "Invalid enabled_events[0]: must be one of account.application.authorized,
 * account.application.deauthorized, …" (the list of every type; an answer integrators quote from
 * `stripe webhook_endpoints create`). https://docs.stripe.com/api/webhook_endpoints/create
 */
function readEvents(input: ParamReader): string[] {
  const events = input.strArray('enabled_events');
  if (!events || events.length === 0) throw missingParam('enabled_events');
  events.forEach((event, i) => {
    if (event === '*' || KNOWN_EVENT_TYPES.has(event)) return;
    const param = `${input.name('enabled_events')}[${i}]`;
    throw invalidRequest(`Invalid ${param}: must be one of ${oneOfList(WEBHOOK_EVENT_TYPES)}`, param);
  });
  return events;
}

/** Stripe's wording for an enum's values: "a, b, or c". */
function oneOfList(values: readonly string[]): string {
  return `${values.slice(0, -1).join(', ')}, or ${values[values.length - 1]}`;
}

/** The stored endpoint without `secret` (Stripe only returns it on create). */
function view(we: Stripe.WebhookEndpoint): Stripe.WebhookEndpoint {
  const { secret: _secret, ...rest } = we;
  return rest;
}

function create({ emulator, input }: ApiRequest): Stripe.WebhookEndpoint {
  const we: Stripe.WebhookEndpoint = {
    id: newId('we'),
    object: 'webhook_endpoint',
    api_version: input.str('api_version') ?? null,
    application: null,
    created: emulator.now(),
    description: input.str('description') ?? null,
    enabled_events: readEvents(input),
    livemode: false,
    metadata: input.metadata({}),
    status: 'enabled',
    url: readUrl(input),
  };
  const secret = `whsec_${randomBase62(32)}`;
  emulator.store.insert(COLLECTIONS.webhookEndpoint, we);
  const rec: WebhookSecretRecord = { id: we.id, secret };
  emulator.store.insert(COLLECTIONS.webhookSecret, rec);
  return { ...we, secret };
}

function update({ emulator, input, pathParams }: ApiRequest): Stripe.WebhookEndpoint {
  emulator.store.require(COLLECTIONS.webhookEndpoint, pathParams.id, 'webhook endpoint');
  const { obj } = emulator.store.update(COLLECTIONS.webhookEndpoint, pathParams.id, (we) => {
    if (input.has('url')) we.url = readUrl(input);
    if (input.has('enabled_events')) we.enabled_events = readEvents(input);
    if (input.has('description')) we.description = input.strOrNull('description') ?? null;
    const disabled = input.bool('disabled');
    if (disabled !== undefined) we.status = disabled ? 'disabled' : 'enabled';
    we.metadata = input.metadata(we.metadata);
  });
  return view(obj);
}

export const routes: Route[] = [
  {
    method: 'POST',
    path: '/v1/webhook_endpoints',
    params: ['enabled_events', 'url', 'api_version', 'connect', 'description', 'metadata'],
    handler: create,
  },
  {
    method: 'GET',
    path: '/v1/webhook_endpoints',
    params: ['limit', 'starting_after', 'ending_before'],
    handler: (req) =>
      paginate(req.emulator.store.all(COLLECTIONS.webhookEndpoint).map(view), req.input, req.path),
  },
  {
    method: 'GET',
    path: '/v1/webhook_endpoints/:id',
    params: [],
    handler: ({ emulator, pathParams }) =>
      view(emulator.store.require(COLLECTIONS.webhookEndpoint, pathParams.id, 'webhook endpoint')),
  },
  {
    method: 'POST',
    path: '/v1/webhook_endpoints/:id',
    params: ['description', 'disabled', 'enabled_events', 'metadata', 'url'],
    handler: update,
  },
  {
    method: 'DELETE',
    path: '/v1/webhook_endpoints/:id',
    params: [],
    handler: ({ emulator, pathParams }) => {
      emulator.store.require(COLLECTIONS.webhookEndpoint, pathParams.id, 'webhook endpoint');
      emulator.store.delete(COLLECTIONS.webhookEndpoint, pathParams.id);
      emulator.store.delete(COLLECTIONS.webhookSecret, pathParams.id);
      return rememberDeleted(emulator, pathParams.id, 'webhook_endpoint');
    },
  },
];
