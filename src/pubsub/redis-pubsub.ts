import { RedisPubSub } from 'graphql-redis-subscriptions';
import Redis from 'ioredis';
import { type BillingPubSub, channelOf, publishArguments, reviveDates } from './pubsub';

/** Across instances: an event published on one instance reaches subscribers connected to any other. */
export class RedisBillingPubSub implements BillingPubSub {
  private readonly engine: RedisPubSub;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;

  constructor(url: string) {
    const options = { maxRetriesPerRequest: 3, lazyConnect: false };
    this.publisher = new Redis(url, options);
    this.subscriber = new Redis(url, options);
    // ioredis reconnects by itself; swallowing the event keeps an outage from crashing the process.
    for (const client of [this.publisher, this.subscriber]) client.on('error', () => undefined);
    this.engine = new RedisPubSub({
      publisher: this.publisher,
      subscriber: this.subscriber,
      reviver: reviveDates,
    });
  }

  async publish(topic: string, ...args: unknown[]): Promise<void> {
    const { channel, payload } = publishArguments(topic, args);
    await this.engine.publish(channel, payload);
  }

  subscribe(topic: string, id?: unknown): AsyncIterable<unknown> {
    return this.engine.asyncIterableIterator(channelOf(topic, id)) as AsyncIterable<unknown>;
  }

  async listen(topic: string, onMessage: (payload: unknown) => void): Promise<() => Promise<void>> {
    const id = await this.engine.subscribe(topic, onMessage);
    return async () => this.engine.unsubscribe(id);
  }

  onReconnect(listener: () => void): void {
    // `ready` fires on the first connection too; only the ones after a lost connection matter.
    let lost = false;
    this.subscriber.on('close', () => {
      lost = true;
    });
    this.subscriber.on('ready', () => {
      if (lost) listener();
      lost = false;
    });
  }

  /** The Redis client used for health checks. */
  get client(): Redis {
    return this.publisher;
  }

  async close(): Promise<void> {
    // Closing the engine quits both clients; a client already gone is fine at shutdown.
    await this.engine.close().catch(() => undefined);
  }
}
