import type { GraphQLError } from 'graphql';
import type { ServerOptions } from 'graphql-ws';
import { CLIENT_ERROR_CODES, ErrorCode } from '../errors';
import { APOLLO_REQUEST_CODES } from './format-error';
import type { GraphQLMetrics } from '../observability/metrics';

/**
 * The `code` label of an operation's first error. A code outside our own and Apollo's request codes is what
 * `formatError` masks, so it is counted as INTERNAL_SERVER_ERROR, as the client saw it.
 */
export function errorCodeLabel(error: GraphQLError): string {
  const code = error.extensions?.code;
  return typeof code === 'string' && (CLIENT_ERROR_CODES.has(code) || APOLLO_REQUEST_CODES.has(code))
    ? code
    : ErrorCode.INTERNAL_SERVER_ERROR;
}

/**
 * graphql-ws hooks that keep `billing_graphql_subscriptions_active`: a subscription counts from the moment it
 * is running (its source stream exists) until graphql-ws completes it, whether the client stopped it, the stream
 * ended or failed, or the socket closed. Operations refused before they ran never count.
 */
export function liveSubscriptionHooks<P extends Record<string, unknown> | undefined, E>(
  metrics: GraphQLMetrics,
): Required<Pick<ServerOptions<P, E>, 'onOperation' | 'onComplete'>> {
  const running = new WeakMap<object, Set<string>>();
  return {
    onOperation: (context, id, _payload, _args, result) => {
      if (result && typeof result === 'object' && Symbol.asyncIterator in result) {
        const ids = running.get(context) ?? new Set<string>();
        running.set(context, ids);
        ids.add(id);
        metrics.subscriptionStarted();
      }
      return undefined;
    },
    onComplete: (context, id) => {
      if (running.get(context)?.delete(id)) metrics.subscriptionEnded();
    },
  };
}
