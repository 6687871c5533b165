/** Shared helpers for the emulator's tests (not a test file itself). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { type RunningEmulator, type StartOptions, startEmulator } from '../src/index';

export const API_KEY = 'sk_test_emulator_1234567890';

export interface TestEmulator extends RunningEmulator {
  stripe: Stripe;
  /** A client with custom settings against this emulator. */
  client(config?: Stripe.StripeConfig, key?: string): Stripe;
  /** Raw HTTP call (form-encoded body) for checks the SDK hides; returns status, headers, JSON. */
  raw(
    method: string,
    path: string,
    options?: { body?: string; headers?: Record<string, string>; auth?: string | null },
  ): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }>;
  /** POST a JSON body to an `/_emulator/...` control. */
  control(path: string, body?: Record<string, unknown>, method?: string): Promise<Record<string, unknown>>;
  /** Waits until all webhooks are delivered (fails the test if they aren't within `timeoutMs`). */
  flush(timeoutMs?: number): Promise<void>;
}

export async function startTestEmulator(options: StartOptions = {}): Promise<TestEmulator> {
  const running = await startEmulator({ port: 0, ...options });
  const client = (config: Stripe.StripeConfig = {}, key = API_KEY): Stripe =>
    new Stripe(key, { host: '127.0.0.1', port: running.port, protocol: 'http', ...config });
  const raw: TestEmulator['raw'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.auth !== null) headers.Authorization = o.auth ?? `Bearer ${API_KEY}`;
    if (o.body !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(`${running.url}${path}`, { method, headers, body: o.body });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = { text };
    }
    return { status: res.status, headers: res.headers, json };
  };
  const control: TestEmulator['control'] = async (path, body = {}, method = 'POST') => {
    const res = await fetch(`${running.url}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: method === 'GET' ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status >= 400 && res.status !== 408)
      throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    ...running,
    stripe: client(),
    client,
    raw,
    control,
    flush: async (timeoutMs = 10000) => {
      const r = await control('/_emulator/webhooks/flush', { timeout_ms: timeoutMs });
      if (r.settled !== true)
        throw new Error(`webhooks not delivered in ${timeoutMs} ms: ${JSON.stringify(r)}`);
    },
  };
}

export interface Received {
  body: string;
  signature: string;
  /** Verified with stripe.webhooks.constructEvent. */
  event: Stripe.Event;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Signature failures (must stay empty). */
  rejected: string[];
  /** Most requests handled at the same time. */
  maxConcurrent: number;
  /** Status to answer for the next request (default 200). */
  respond: (n: number) => number;
  delayMs: number;
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** A local webhook endpoint verifying every delivery with `constructEvent`. */
export async function startReceiver(secret: () => string): Promise<Receiver> {
  const verifier = new Stripe('sk_test_unused_000000');
  let active = 0;
  let seen = 0;
  const r: Receiver = {
    url: '',
    received: [],
    rejected: [],
    maxConcurrent: 0,
    respond: () => 200,
    delayMs: 0,
    waitFor: async (count, timeoutMs = 10000) => {
      const deadline = Date.now() + timeoutMs;
      while (r.received.length < count) {
        if (Date.now() > deadline) {
          throw new Error(`expected ${count} webhooks, got ${r.received.length} within ${timeoutMs} ms`);
        }
        await new Promise((res) => setTimeout(res, 10));
      }
      return r.received;
    },
    close: async () => {
      await new Promise<void>((res) => {
        server.close(() => res());
        server.closeAllConnections();
      });
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      active++;
      r.maxConcurrent = Math.max(r.maxConcurrent, active);
      const body = Buffer.concat(chunks).toString('utf8');
      const signature = String(req.headers['stripe-signature'] ?? '');
      const status = r.respond(seen++);
      setTimeout(() => {
        active--;
        if (status >= 200 && status < 300) {
          try {
            const event = verifier.webhooks.constructEvent(body, signature, secret());
            r.received.push({ body, signature, event, at: Date.now() });
          } catch (e) {
            r.rejected.push(e instanceof Error ? e.message : String(e));
          }
        }
        res.writeHead(status);
        res.end();
      }, r.delayMs);
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
  return r;
}

/**
 * One emulator for the whole test file, reset before every test and closed after the file. `onStart` receives
 * it (files keep their own `emulator` and `stripe` variables).
 */
export function useEmulatorPerFile(onStart: (emulator: TestEmulator) => void): void {
  let running: TestEmulator | undefined;
  beforeAll(async () => {
    running = await startTestEmulator();
    onStart(running);
  });
  afterAll(async () => {
    await running?.close();
  });
  beforeEach(async () => {
    await running?.control('/_emulator/reset');
  });
}
