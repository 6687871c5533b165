import { EventEmitter, on, setMaxListeners } from 'node:events';
import { type BillingPubSub, channelOf, publishArguments } from './pubsub';

/** One process only: what `npm run dev` uses when REDIS_URL is unset. */
export class InMemoryPubSub implements BillingPubSub {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private readonly aborter = new AbortController();

  constructor() {
    // Every live subscription listens on the one signal; more than ten is normal, not a leak.
    setMaxListeners(0, this.aborter.signal);
  }

  async publish(topic: string, ...args: unknown[]): Promise<void> {
    const { channel, payload } = publishArguments(topic, args);
    this.emitter.emit(channel, payload);
  }

  subscribe(topic: string, id?: unknown): AsyncIterable<unknown> {
    const events = on(this.emitter, channelOf(topic, id), { signal: this.aborter.signal });
    return {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          try {
            const result = await events.next();
            return result.done ? result : { done: false, value: (result.value as unknown[])[0] };
          } catch {
            return { done: true, value: undefined };
          }
        },
        return: async () => {
          await events.return?.();
          return { done: true, value: undefined };
        },
      }),
    };
  }

  async listen(topic: string, onMessage: (payload: unknown) => void): Promise<() => Promise<void>> {
    this.emitter.on(topic, onMessage);
    return async () => {
      this.emitter.off(topic, onMessage);
    };
  }

  /** One process cannot lose its connection to itself. */
  onReconnect(_listener: () => void): void {}

  async close(): Promise<void> {
    this.aborter.abort();
  }
}
