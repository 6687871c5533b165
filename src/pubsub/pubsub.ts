import type { PubSub } from 'type-graphql';

/**
 * The pub/sub that type-graphql's `@Subscription` reads from and services publish to. A topic with an id
 * (`ACCOUNT_UPDATED` + account id) becomes its own channel, so a subscriber only ever receives its own
 * account's events: scoping by channel, not by filtering what everyone receives.
 */
export interface BillingPubSub extends PubSub {
  publish(topic: string, id: string, payload: unknown): Promise<void>;
  publish(topic: string, payload: unknown): Promise<void>;
  subscribe(topic: string, id?: unknown): AsyncIterable<unknown>;
  /**
   * For services (not GraphQL subscribers): calls `onMessage` for every message on `topic`. Resolves once the
   * subscription is in place, so nothing published afterwards is missed; resolves to the unsubscribe function.
   */
  listen(topic: string, onMessage: (payload: unknown) => void): Promise<() => Promise<void>>;
  /** Calls `listener` whenever the connection comes back after an outage (messages may have been missed). */
  onReconnect(listener: () => void): void;
  close(): Promise<void>;
}

export function channelOf(topic: string, id?: unknown): string {
  return id === undefined || id === null ? topic : `${topic}:${String(id)}`;
}

/** Splits type-graphql's `publish(topic, [id,] payload)` into a channel and a payload. */
export function publishArguments(topic: string, args: unknown[]): { channel: string; payload: unknown } {
  return args.length >= 2
    ? { channel: channelOf(topic, args[0]), payload: args[1] }
    : { channel: topic, payload: args[0] };
}

/** ISO date strings in JSON payloads become Dates again, as they were when published. */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
export function reviveDates(_key: string, value: unknown): unknown {
  return typeof value === 'string' && ISO_DATE.test(value) ? new Date(value) : value;
}
