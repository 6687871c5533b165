import type Stripe from 'stripe';
import { AsyncLocalStorage } from 'node:async_hooks';
import { newId } from './ids';

export const API_VERSION = '2026-10-28.endive';

/** `event.request`: the API request that caused the event, nulls for time-driven events. */
export interface RequestInfo {
  id: string | null;
  idempotency_key: string | null;
}

/** The stored event; same JSON shape as `Stripe.Event`. */
export interface EmulatorEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: RequestInfo;
  type: Stripe.Event.Type;
}

/**
 * Carries the current API request through async code, so `emitEvent` can fill
 * `event.request` without every caller threading it. Time-driven work runs outside it.
 */
export const requestContext = new AsyncLocalStorage<RequestInfo>();

export function currentRequest(): RequestInfo {
  return requestContext.getStore() ?? { id: null, idempotency_key: null };
}

/** Builds an event (not yet stored). `snapshot` must already be rendered JSON. */
export function buildEvent(
  type: Stripe.Event.Type,
  snapshot: Record<string, unknown>,
  created: number,
  previousAttributes: Record<string, unknown> | undefined,
  request: RequestInfo,
  pendingWebhooks: number,
): EmulatorEvent {
  return {
    id: newId('evt'),
    object: 'event',
    api_version: API_VERSION,
    created,
    data: {
      object: snapshot,
      ...(previousAttributes && Object.keys(previousAttributes).length > 0
        ? { previous_attributes: previousAttributes }
        : {}),
    },
    livemode: false,
    pending_webhooks: pendingWebhooks,
    request,
    type,
  };
}

/**
 * `*` matches all, otherwise exact, as in `enabled_events`; `customer.*` (by prefix) only reaches here
 * from the events list's `type` filter, since endpoints refuse such patterns.
 */
export function eventTypeMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

declare module './collections' {
  interface CollectionRecords {
    event: EmulatorEvent;
  }
}
