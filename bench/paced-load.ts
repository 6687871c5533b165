/**
 * An open-loop load at a fixed rate, for latency under saturation (issue 17's model-call p99). autocannon's
 * `overallRate` is a per-second budget per connection: every connection sends back to back until its budget for
 * the second is spent, then waits for the next second, so the first part of each second is saturated and its
 * latency is the saturated queue's (measured 2026-12-07: p50 166 ms at 45 % of the saturated rate). Here uses
 * start evenly spaced in time, at most `connections` in flight (keep-alive sockets), each a sequence of requests
 * (a reserve, then its commit); a request's latency counts from when its use was due, so a use that waited for a
 * free connection counts its wait (no coordinated omission).
 */
import { Agent, request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface PacedOptions {
  url: string;
  headers: Record<string, string>;
  /** Uses started per second (each makes `use`'s requests). */
  usesPerSecond: number;
  seconds: number;
  connections: number;
  /** One use: its requests, in order, through `post` (which answers the response's body). */
  use: (post: (body: object) => Promise<string>) => Promise<void>;
}

export interface PacedResult {
  requests: number;
  errors: number;
  /** Each request's latency, ms. */
  latencies: number[];
  /**
   * The p99 of this process's own event-loop delay over the round, ms: a late timer or answer read late here is
   * counted in the requests' latency though the service had answered (issue 17: report it beside the p99).
   */
  loopDelayP99: number;
}

export async function pacedLoad(options: PacedOptions): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const result: PacedResult = { requests: 0, errors: 0, latencies: [], loopDelayP99: 0 };
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const intervalMs = 1000 / options.usesPerSecond;
  const start = performance.now();
  const uses: Array<Promise<void>> = [];
  let inFlight = 0;
  const waiting: Array<() => void> = [];
  for (let index = 0; start + index * intervalMs < start + options.seconds * 1000; index++) {
    const due = start + index * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    uses.push(
      (async () => {
        if (inFlight >= options.connections) await new Promise<void>((resolve) => waiting.push(resolve));
        inFlight++;
        let since = due;
        try {
          await options.use(async (body) => {
            const answer = await post(agent, options, body);
            result.latencies.push(performance.now() - since);
            since = performance.now();
            result.requests++;
            if (answer.status !== 200) result.errors++;
            return answer.text;
          });
        } catch {
          result.errors++;
        } finally {
          inFlight--;
          waiting.shift()?.();
        }
      })(),
    );
  }
  await Promise.all(uses);
  loopDelay.disable();
  result.loopDelayP99 = loopDelay.percentile(99) / 1e6;
  agent.destroy();
  return result;
}

function post(agent: Agent, options: PacedOptions, body: object): Promise<{ status: number; text: string }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      `${options.url}/graphql`,
      {
        method: 'POST',
        agent,
        headers: {
          ...options.headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

/** The value at quantile `q` (0–1) of `values`, ms; 0 for none. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}
