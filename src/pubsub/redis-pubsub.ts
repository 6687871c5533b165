import { RedisPubSub } from 'graphql-redis-subscriptions';
import Redis from 'ioredis';
import { type BillingPubSub, channelOf, publishArguments, reviveDates } from './pubsub';

/**
 * Across instances: an event published on one instance reaches subscribers connected to any other. Every channel
 * is named under `namespace` (the database's name, as the usage copies' keys are): two deployments sharing one
 * Redis (staging beside production, two test runs, two benches) have the same account ids, and without it a
 * subscriber of one would be pushed the other's changes and its caches dropped by the other's.
 */
export class RedisBillingPubSub implements BillingPubSub {
  private readonly engine: RedisPubSub;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  /** The publisher lost its connection and has not got it back: publishing fails at once instead of waiting. */
  private publisherDown = false;

  constructor(
    url: string,
    private readonly namespace: string,
  ) {
    const options = { maxRetriesPerRequest: 3, lazyConnect: false };
    // Publishes issued in the same tick (the webhook workers' and mutations' announcements) share one write.
    this.publisher = new Redis(url, { ...options, enableAutoPipelining: true });
    // No ready check on the subscriber: ioredis writes a SUBSCRIBE made between the TCP connect and the ready
    // check at once, which puts the connection in subscriber mode; the check's INFO is then refused, the client
    // reconnects, and the subscription made in that window is lost for good (a listener subscribing a few
    // milliseconds after start-up never heard anything). A subscriber sends nothing but (P)SUBSCRIBE anyway.
    this.subscriber = new Redis(url, { ...options, enableReadyCheck: false });
    // ioredis reconnects by itself; swallowing the event keeps an outage from crashing the process.
    for (const client of [this.publisher, this.subscriber]) client.on('error', () => undefined);
    this.publisher.on('close', () => {
      this.publisherDown = true;
    });
    this.publisher.on('ready', () => {
      this.publisherDown = false;
    });
    handleUnawaitedSubscriptionCommands(this.subscriber);
    this.engine = new RedisPubSub({
      publisher: this.publisher,
      subscriber: this.subscriber,
      reviver: reviveDates,
    });
  }

  async publish(topic: string, ...args: unknown[]): Promise<void> {
    // Queued for a reconnect, a publish would hold up the mutation or webhook that made it for seconds (ioredis
    // gives a queued command up only after several reconnect attempts); pub/sub keeps nothing anyway.
    if (this.publisherDown) throw new Error('Redis is unreachable: not published');
    const { channel, payload } = publishArguments(topic, args);
    await this.engine.publish(this.named(channel), payload);
  }

  subscribe(topic: string, id?: unknown): AsyncIterable<unknown> {
    return this.engine.asyncIterableIterator(this.named(channelOf(topic, id))) as AsyncIterable<unknown>;
  }

  async listen(topic: string, onMessage: (payload: unknown) => void): Promise<() => Promise<void>> {
    const id = await this.engine.subscribe(this.named(topic), onMessage);
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

  private named(channel: string): string {
    return redisChannelName(this.namespace, channel);
  }

  /** The Redis client used for health checks. */
  get client(): Redis {
    return this.publisher;
  }

  async close(): Promise<void> {
    // QUIT needs a connection: while Redis is down it would wait for one, reconnecting forever, so a client
    // that is not connected is simply dropped. A client already gone is fine at shutdown.
    await Promise.all(
      [this.publisher, this.subscriber].map((client) =>
        client.status === 'ready' ? client.quit().catch(() => client.disconnect()) : client.disconnect(),
      ),
    );
  }
}

/** A channel's name in Redis: `billing:<namespace>:<channel>` (`billing:billing:ACCOUNT_UPDATED:acct_1`). */
export function redisChannelName(namespace: string, channel: string): string {
  return `billing:${namespace}:${channel}`;
}

/**
 * Subscription commands that nobody awaits, whose rejection would be unhandled (an unhandled rejection ends a Node
 * process):
 * - graphql-redis-subscriptions sends UNSUBSCRIBE (when a subscriber leaves) without awaiting it; while Redis is
 *   down it is rejected after the reconnect attempts. At worst the channel is subscribed again on reconnect, and
 *   its messages, which nobody listens to, are dropped.
 * - ioredis itself sends SUBSCRIBE / PSUBSCRIBE again on every reconnect (`autoResubscribe`,
 *   node_modules/ioredis/built/redis/event_handler.js) without a catch: a connection that drops again, or is
 *   closed at shutdown, before Redis answers rejects them with "Connection is closed." (seen in
 *   test/integration/rate-limit.test.ts, which crashes Redis and then stops the service).
 * Each promise gets a handler here and is returned as it is, so a caller that awaits still sees the rejection.
 */
function handleUnawaitedSubscriptionCommands(client: Redis): void {
  const unsubscribe = client.unsubscribe.bind(client);
  const punsubscribe = client.punsubscribe.bind(client);
  const subscribe = client.subscribe.bind(client);
  const psubscribe = client.psubscribe.bind(client);
  Object.assign(client, {
    unsubscribe: (...channels: string[]) => handled(unsubscribe(...channels)),
    punsubscribe: (...patterns: string[]) => handled(punsubscribe(...patterns)),
    subscribe: (...channels: string[]) => handled(subscribe(...channels)),
    psubscribe: (...patterns: string[]) => handled(psubscribe(...patterns)),
  });
}

function handled<T>(sent: Promise<T>): Promise<T> {
  sent.catch(() => undefined);
  return sent;
}
