import type Stripe from 'stripe';
import { Clock, type AdvanceRunner, type TimeSource } from './clock';
import {
  API_VERSION,
  buildEvent,
  currentRequest,
  type EmulatorEvent,
  eventTypeMatches,
  type RequestInfo,
  requestContext,
} from './events';
import { Renderer } from './expand';
import { Faults } from './faults';
import { IdempotencyCache } from './idempotency';
import { Store } from './store';
import { WebhookDispatcher, type WebhookMode, type WebhookTarget } from './webhooks';
import { COLLECTIONS } from './collections';

export interface EmulatorConfig {
  /** Like `stripe listen --forward-to`: every event also goes to this URL. */
  forwardTo?: string;
  /** Secret for `forwardTo` signatures (default: a fixed `whsec_…` printed at start). */
  webhookSecret?: string;
  /** Webhook switches and retry schedule to start with. */
  webhooks?: Partial<WebhookMode>;
  /** How long a `timeout` fault holds the socket (ms) unless the fault says otherwise. */
  faultTimeoutMs?: number;
  log?: (msg: string) => void;
}

export interface WebhookSecretRecord {
  id: string;
  secret: string;
}

export const DEFAULT_FORWARD_SECRET = 'whsec_emulator_forward_secret_0000000000';

/**
 * One emulator instance: everything a handler needs hangs off this (`req.emulator`).
 * Several instances can live in one process (tests), so nothing is module-global.
 */
export class Emulator {
  readonly apiVersion = API_VERSION;
  readonly store = new Store();
  readonly clock = new Clock();
  readonly renderer = new Renderer(this.store);
  readonly faults: Faults;
  readonly idempotency = new IdempotencyCache();
  readonly webhooks: WebhookDispatcher;
  readonly log: (msg: string) => void;
  private resetHooks: (() => void)[] = [];

  constructor(readonly config: EmulatorConfig = {}) {
    this.log = config.log ?? (() => {});
    this.faults = new Faults(config.faultTimeoutMs ?? 30000);
    this.webhooks = new WebhookDispatcher(this.store, (type) => this.targetsFor(type), this.log);
    this.webhooks.mode = { ...this.webhooks.mode, ...config.webhooks };
  }

  /** Unix seconds now for `customerId` (its test clock's time if on one), else emulator time. */
  now(customerId?: string | null): number {
    return this.clock.now(customerId);
  }

  /**
   * Records an event and queues its webhooks. `object` is snapshotted as the API would render
   * it (includables dropped). `previousAttributes`: old values of changed fields (see
   * `store.update`). `request`: defaults to the current API request; pass `null` for
   * time-driven events (or run inside `timeDriven`).
   */
  emitEvent(
    type: Stripe.Event.Type,
    object: { id: string; object: string },
    previousAttributes?: Record<string, unknown>,
    request?: RequestInfo | null,
    /** Whose time (a test clock's) the event is created at, for an object that names no customer. */
    customer?: string,
  ): EmulatorEvent {
    const snapshot = this.renderer.render(object) as Record<string, unknown>;
    const req = request === null ? { id: null, idempotency_key: null } : (request ?? currentRequest());
    const event = buildEvent(
      type,
      snapshot,
      this.now(customer ?? customerOf(object)),
      previousAttributes,
      req,
      this.webhooks.countTargets(type),
    );
    this.store.insert(COLLECTIONS.event, event);
    this.webhooks.enqueue(event);
    return event;
  }

  /** Runs `fn` outside any API request: events it emits have `request: {id: null, …}`. */
  timeDriven<T>(fn: () => T): T {
    return requestContext.exit(fn);
  }

  /**
   * `objectType.field` is only returned when expanded (`price.tiers`). With `compute`, the
   * value is computed from the stored object at render time rather than stored.
   */
  registerIncludable(
    objectType: string,
    field: string,
    compute?: (obj: Record<string, unknown>) => unknown,
  ): void {
    this.renderer.registerIncludable(objectType, field, compute);
  }

  /** Plug a test-clock time source: return a time for customers on a clock, else undefined. */
  addTimeSource(source: TimeSource): void {
    this.clock.addTimeSource(source);
  }

  /** Called (awaited, outside any request) after the emulator clock moves forward. */
  onTimeAdvance(runner: AdvanceRunner): void {
    this.clock.onAdvance((w) => this.timeDriven(() => runner(w)));
  }

  /** Moves the emulator clock to `to` (unix s) and runs the advance runners. */
  async advanceClockTo(to: number): Promise<{ from: number; to: number }> {
    const w = await this.clock.advanceTo(to);
    this.store.meta.clockOffset = this.clock.offset;
    this.store.onChange();
    return w;
  }

  /** Called after `POST /_emulator/reset` (and `reset()`), e.g. to re-seed default objects. */
  onReset(hook: () => void): void {
    this.resetHooks.push(hook);
  }

  reset(): void {
    this.webhooks.clear();
    this.store.reset();
    this.clock.offset = 0;
    this.idempotency.clear();
    this.faults.clear();
    for (const hook of this.resetHooks) hook();
  }

  /** Restores what `store.meta` carries after a load. */
  afterLoad(): void {
    const off = this.store.meta.clockOffset;
    this.clock.offset = typeof off === 'number' ? off : 0;
  }

  private targetsFor(type: string): WebhookTarget[] {
    const targets: WebhookTarget[] = [];
    for (const we of this.store.all(COLLECTIONS.webhookEndpoint).reverse()) {
      if (we.status !== 'enabled') continue;
      if (!we.enabled_events.some((p) => eventTypeMatches(p, type))) continue;
      const secret = this.store.get(COLLECTIONS.webhookSecret, we.id)?.secret;
      if (secret) targets.push({ id: we.id, url: we.url, secret, enabledEvents: we.enabled_events });
    }
    if (this.config.forwardTo) {
      targets.push({
        id: 'forward',
        url: this.config.forwardTo,
        secret: this.config.webhookSecret ?? DEFAULT_FORWARD_SECRET,
        enabledEvents: ['*'],
      });
    }
    return targets;
  }
}

/** The customer whose clock an object lives on: itself for customers, else `object.customer`. */
function customerOf(object: { id: string; object: string }): string | undefined {
  if (object.object === 'customer') return object.id;
  const c = (object as { customer?: unknown }).customer;
  if (typeof c === 'string') return c;
  if (typeof c === 'object' && c !== null && typeof (c as { id?: unknown }).id === 'string') {
    return (c as { id: string }).id;
  }
  return undefined;
}

declare module './collections' {
  interface CollectionRecords {
    _webhook_secret: WebhookSecretRecord;
  }
}
