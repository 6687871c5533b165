import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { type EmulatorEvent } from './events';
import { newId } from './ids';
import type { Store } from './store';
import { COLLECTIONS } from './collections';

/** Where events go: a webhook endpoint (`we_…`) or the `--forward-to` target (`forward`). */
export interface WebhookTarget {
  id: string;
  url: string;
  secret: string;
  enabledEvents: string[];
}

/**
 * Test switches (set with `POST /_emulator/webhooks/mode`):
 * - `order`: `in_order` (default), `reverse` or `shuffle`; out-of-order modes hold up to
 *   `window` events per target (released when the window fills, after `window_ms`, or on flush).
 * - `twice`: every event is delivered two times.
 * - `concurrent`: deliveries are not serialised per target (twice-copies go out together).
 * - `retry_schedule_ms`: delay before each retry after a failed attempt; then give up.
 * - `timeout_ms`: how long one attempt may take before it counts as a network error.
 */
export interface WebhookMode {
  order: 'in_order' | 'reverse' | 'shuffle';
  window: number;
  window_ms: number;
  twice: boolean;
  concurrent: boolean;
  retry_schedule_ms: number[];
  timeout_ms: number;
}

export const DEFAULT_MODE: WebhookMode = {
  order: 'in_order',
  window: 5,
  window_ms: 1000,
  twice: false,
  concurrent: false,
  retry_schedule_ms: [1000, 2000, 5000, 10000, 30000],
  timeout_ms: 10000,
};

/** One attempt to deliver one event to one target, kept for the dashboard and tests. */
export interface DeliveryAttempt {
  id: string;
  event: string;
  event_type: string;
  endpoint: string;
  url: string;
  attempt: number;
  copy: number;
  /** Real wall-clock time of the attempt (ms since epoch). */
  at: number;
  duration_ms: number;
  status: 'succeeded' | 'failed';
  response_code: number | null;
  error: string | null;
  /** When failed: ms of the scheduled retry, or null if this was the last attempt. */
  next_retry_at: number | null;
}

interface Job {
  eventId: string;
  target: WebhookTarget;
  attempt: number;
  copy: number;
}

interface TargetState {
  buffer: Job[];
  queue: Job[];
  busy: boolean;
  windowTimer: NodeJS.Timeout | null;
}

/** `Stripe-Signature` exactly as Stripe computes it (HMAC-SHA256 of `${t}.${payload}`). */
export function signPayload(payload: string, secret: string, timestamp: number): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(
      u,
      {
        method: 'POST',
        agent: false,
        headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Delivers stored events to targets asynchronously. Default: per target, one delivery at a
 * time, in the order events were created; a failed attempt is retried later on
 * `retry_schedule_ms` without blocking the events behind it (Stripe does not hold them either).
 */
export class WebhookDispatcher {
  mode: WebhookMode = { ...DEFAULT_MODE };
  private states = new Map<string, TargetState>();
  private inflight = 0;
  private retryTimers = new Set<NodeJS.Timeout>();
  private closed = false;
  /** Bumped by `clear()`, so attempts still in flight from before a reset record nothing. */
  private generation = 0;
  /** Events already delivered successfully, per `${event}:${target}` (for pending_webhooks). */
  private delivered = new Set<string>();

  constructor(
    private readonly store: Store,
    /** The targets an event of this type goes to, looked up when the event is emitted. */
    private readonly targetsFor: (type: string) => WebhookTarget[],
    private readonly log: (msg: string) => void = () => {},
  ) {}

  /** Number of targets an event of `type` will be sent to (`pending_webhooks`). */
  countTargets(type: string): number {
    return this.targetsFor(type).length;
  }

  enqueue(event: EmulatorEvent): void {
    if (this.closed) return;
    for (const target of this.targetsFor(event.type)) {
      const state = this.state(target.id);
      const copies = this.mode.twice ? 2 : 1;
      for (let copy = 1; copy <= copies; copy++) {
        const job: Job = { eventId: event.id, target, attempt: 1, copy };
        if (this.mode.order === 'in_order') state.queue.push(job);
        else state.buffer.push(job);
      }
      if (this.mode.order !== 'in_order') {
        if (state.buffer.length >= this.mode.window * copies) this.release(state);
        else if (!state.windowTimer) {
          state.windowTimer = setTimeout(() => this.release(state), this.mode.window_ms);
        }
      }
    }
    // Deliver after the current API response is on its way, as Stripe does.
    setImmediate(() => this.pumpAll());
  }

  /** Moves the out-of-order window into the queue, reversed or shuffled. */
  private release(state: TargetState): void {
    if (state.windowTimer) clearTimeout(state.windowTimer);
    state.windowTimer = null;
    const jobs = state.buffer.splice(0);
    if (this.mode.order === 'reverse') jobs.reverse();
    else {
      for (let i = jobs.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [jobs[i], jobs[j]] = [jobs[j], jobs[i]];
      }
    }
    state.queue.push(...jobs);
    setImmediate(() => this.pumpAll());
  }

  private state(id: string): TargetState {
    let s = this.states.get(id);
    if (!s) {
      s = { buffer: [], queue: [], busy: false, windowTimer: null };
      this.states.set(id, s);
    }
    return s;
  }

  private pumpAll(): void {
    for (const s of this.states.values()) this.pump(s);
  }

  private pump(state: TargetState): void {
    if (this.closed) return;
    if (this.mode.concurrent) {
      for (const job of state.queue.splice(0)) void this.attempt(job);
      return;
    }
    if (state.busy) return;
    const job = state.queue.shift();
    if (!job) return;
    state.busy = true;
    void this.attempt(job).finally(() => {
      state.busy = false;
      this.pump(state);
    });
  }

  private async attempt(job: Job): Promise<void> {
    const event = this.store.get(COLLECTIONS.event, job.eventId);
    if (!event) return; // reset since it was queued
    const generation = this.generation;
    this.inflight++;
    const payload = JSON.stringify(event, null, 2);
    // Signed with real time: receivers check it against their own clock (300 s tolerance).
    const t = Math.floor(Date.now() / 1000);
    const started = Date.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await post(
        job.target.url,
        payload,
        {
          'Content-Type': 'application/json; charset=utf-8',
          'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          Accept: '*/*; q=0.5, application/xml',
          'Cache-Control': 'no-cache',
          'Stripe-Signature': signPayload(payload, job.target.secret, t),
        },
        this.mode.timeout_ms,
      );
      status = res.status;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    // Reset meanwhile: `clear()` already zeroed `inflight` (this attempt included).
    if (generation !== this.generation) return;
    const ok = status !== null && status >= 200 && status < 300;
    const delay = this.mode.retry_schedule_ms[job.attempt - 1];
    const retry = !ok && !this.closed && delay !== undefined;
    const record: DeliveryAttempt = {
      id: newId('whdel'),
      event: event.id,
      event_type: event.type,
      endpoint: job.target.id,
      url: job.target.url,
      attempt: job.attempt,
      copy: job.copy,
      at: started,
      duration_ms: Date.now() - started,
      status: ok ? 'succeeded' : 'failed',
      response_code: status,
      error,
      next_retry_at: retry ? Date.now() + delay : null,
    };
    this.store.put(COLLECTIONS.webhookDelivery, record);
    const key = `${event.id}:${job.target.id}`;
    if (ok && !this.delivered.has(key)) {
      this.delivered.add(key);
      event.pending_webhooks = Math.max(0, event.pending_webhooks - 1);
    }
    if (!ok) {
      this.log(
        `webhook ${event.type} ${event.id} -> ${job.target.url} failed (${status ?? error}), attempt ${job.attempt}`,
      );
    }
    if (retry) {
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        this.state(job.target.id).queue.push({ ...job, attempt: job.attempt + 1 });
        this.pumpAll();
      }, delay);
      this.retryTimers.add(timer);
    }
    this.inflight--;
  }

  /** Nothing queued, buffered, in flight or waiting for a retry. */
  idle(): boolean {
    if (this.inflight > 0 || this.retryTimers.size > 0) return false;
    for (const s of this.states.values()) if (s.buffer.length || s.queue.length || s.busy) return false;
    return true;
  }

  pendingCounts(): { queued: number; buffered: number; inflight: number; retries: number } {
    let queued = 0;
    let buffered = 0;
    for (const s of this.states.values()) {
      queued += s.queue.length;
      buffered += s.buffer.length;
    }
    return { queued, buffered, inflight: this.inflight, retries: this.retryTimers.size };
  }

  /**
   * Releases held out-of-order windows and waits until every delivery (retries included)
   * has succeeded or given up, or until `timeoutMs`. Resolves true when idle.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const s of this.states.values()) if (s.buffer.length) this.release(s);
      if (this.idle()) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Drops everything queued and pending (used by reset). */
  clear(): void {
    this.generation++;
    this.inflight = 0;
    for (const s of this.states.values()) if (s.windowTimer) clearTimeout(s.windowTimer);
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    this.states.clear();
    this.delivered.clear();
  }

  close(): void {
    this.closed = true;
    this.clear();
  }
}

declare module './collections' {
  interface CollectionRecords {
    _webhook_delivery: DeliveryAttempt;
  }
}
