import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface QueuedSubscription<T> {
  /** The next message, or a failed test after `timeoutMs`. */
  next(timeoutMs?: number): Promise<T>;
  /** True when no message arrives within `ms` (to prove an event was NOT delivered). */
  staysQuiet(ms: number): Promise<boolean>;
  errors: unknown[];
  close(): void;
}

/** A graphql-ws client on a real socket that queues every message, so none is missed between awaits. */
export function connectSocket(httpUrl: string, authorization?: string): Client {
  return createClient({
    url: `${httpUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: authorization ? { authorization } : {},
    retryAttempts: 0,
    lazy: true,
  });
}

export function subscribe<T>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): QueuedSubscription<T> {
  const queue: T[] = [];
  const waiters: Array<(value: T) => void> = [];
  const errors: unknown[] = [];
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (message) => {
        if (message.errors) errors.push(...message.errors);
        const value = message.data as T;
        const waiter = waiters.shift();
        if (waiter) waiter(value);
        else queue.push(value);
      },
      error: (error) => errors.push(error),
      complete: () => undefined,
    },
  );
  return {
    errors,
    // Generous by default, as waitForRedisSubscribers: the message crosses Redis and a database read, and a loaded
    // CI machine stalls for seconds (seen once in CI at 5 s). Tests that expect silence pass their own bound.
    next: (timeoutMs = 15_000) => {
      const queued = queue.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no subscription message within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push((value) => {
          clearTimeout(timer);
          resolve(value);
        });
      });
    },
    staysQuiet: async (ms) => {
      await new Promise((done) => setTimeout(done, ms));
      return queue.length === 0;
    },
    close: dispose,
  };
}

/** Waits until Redis has `count` subscribers on `channel`: SUBSCRIBE is sent lazily, after connect. */
export async function waitForRedisSubscribers(
  redis: { pubsub(subcommand: 'NUMSUB', channel: string): Promise<unknown[]> },
  channel: string,
  count = 1,
  // Generous: on a loaded 2-core CI machine the socket, connection_init and SUBSCRIBE can take seconds.
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [, subscribers] = await redis.pubsub('NUMSUB', channel);
    if (Number(subscribers) >= count) return;
    await new Promise((done) => setTimeout(done, 20));
  }
  throw new Error(`Redis channel ${channel} did not reach ${count} subscriber(s) within ${timeoutMs} ms`);
}
