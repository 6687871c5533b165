import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { FormattedExecutionResult, GraphQLError, GraphQLSchema } from 'graphql';
import { CloseCode, type Context } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Caller } from '../auth/caller';
import type { TokenVerifier } from '../auth/token-verifier';
import type { Config } from '../config';
import { UnauthenticatedError } from '../errors';
import { formatError } from '../graphql/format-error';
import { liveSubscriptionHooks } from '../graphql/graphql-metrics';
import { checkSocketOperation } from '../graphql/query-limits';
import type { GraphQLMetrics } from '../observability/metrics';
import type { ContextFactory } from './graphql-http';

interface SocketExtra extends Record<PropertyKey, unknown> {
  caller?: Caller;
}

type SocketContext = Context<
  Record<string, unknown> | undefined,
  { readonly socket: WebSocket } & Partial<SocketExtra>
>;

export interface GraphQLWebSocketParts {
  schema: GraphQLSchema;
  graphql: Config['graphql'];
  verifier: TokenVerifier;
  contextFor: ContextFactory;
  metrics: GraphQLMetrics;
}

/**
 * graphql-ws on `/graphql`, the same path and port as HTTP. Returns what disposes it (Apollo's drain calls it).
 * A WebSocket message is held to the HTTP body limit (ws' own default is 100 MiB); a larger one closes with 1009.
 */
export function serveGraphQLOverWebSocket(
  app: FastifyInstance,
  parts: GraphQLWebSocketParts,
): () => Promise<void> {
  const sockets = new WebSocketServer({
    server: app.server,
    path: '/graphql',
    maxPayload: parts.graphql.maxBodyBytes,
  });
  const checkOperation = checkSocketOperation(
    parts.schema,
    parts.graphql.limits,
    parts.graphql.introspection,
  );
  const formatSocketError = (error: GraphQLError) =>
    formatError(
      error.toJSON(),
      () => app.log.error({ err: error }, 'unexpected error in a GraphQL operation over WebSocket'),
      error,
    );
  const server = useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      schema: parts.schema,
      onConnect: (context) => authenticateSocket(parts.verifier, context),
      context: (context) => {
        const caller = context.extra.caller ?? { kind: 'anonymous' };
        const requestId = randomUUID();
        const accountBinding = caller.kind === 'authenticated' ? { accountId: caller.accountId } : {};
        return parts.contextFor(caller, requestId, () =>
          app.log.child({ reqId: requestId, ...accountBinding }),
        );
      },
      // The same token and query limits, introspection setting and error masking as over HTTP.
      onSubscribe: (context, _id, payload) =>
        hasExpired(context.extra.caller)
          ? [new UnauthenticatedError('The token has expired')]
          : checkOperation(payload),
      onNext: (_context, _id, _payload, _args, result): FormattedExecutionResult | undefined =>
        result.errors ? { ...result, errors: result.errors.map(formatSocketError) } : undefined,
      onError: (_context, _id, _payload, errors) => errors.map(formatSocketError),
      ...liveSubscriptionHooks(parts.metrics),
    },
    sockets,
  );
  return async () => server.dispose();
}

/**
 * Authenticated once, at connection_init: a bad token never gets a live subscription. The caller is kept for the
 * socket's life, so it must not outlive its token: the socket is closed with 4403 when the token expires (a
 * client whose connectionParams supply a fresh token reconnects), and onSubscribe refuses operations that arrive
 * after that moment before the close takes effect.
 */
async function authenticateSocket(verifier: TokenVerifier, context: SocketContext): Promise<boolean> {
  let caller: Caller;
  try {
    const authorization = context.connectionParams?.authorization;
    // Present but not a string (a number, an object) is a bad credential, not an anonymous caller.
    if (authorization !== undefined && authorization !== null && typeof authorization !== 'string')
      return false;
    caller = await verifier.callerFrom(typeof authorization === 'string' ? authorization : null);
  } catch {
    return false;
  }
  if (hasExpired(caller)) return false;
  context.extra.caller = caller;
  if (caller.kind === 'authenticated' && caller.expiresAt)
    closeAtExpiry(context.extra.socket, caller.expiresAt);
  return true;
}

/** True once an authenticated caller's token has expired (an anonymous caller never expires). */
function hasExpired(caller: Caller | undefined): boolean {
  return (
    caller?.kind === 'authenticated' && caller.expiresAt !== null && caller.expiresAt.getTime() <= Date.now()
  );
}

/** The longest delay `setTimeout` accepts (about 24.8 days): a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Closes a WebSocket with 4403 Forbidden (as a bad token at connection_init) when its caller's token expires.
 * One timer per socket, re-armed for expiries beyond `setTimeout`'s range, cleared when the socket closes
 * first, and unref'd so it never keeps the process alive.
 */
function closeAtExpiry(socket: WebSocket, expiresAt: Date): void {
  // Gone while its token was being verified: no close event will come to clear a timer.
  if (socket.readyState !== socket.OPEN) return;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const left = expiresAt.getTime() - Date.now();
    if (left <= 0) {
      socket.close(CloseCode.Forbidden, 'Forbidden');
      return;
    }
    timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    timer.unref();
  };
  socket.once('close', () => clearTimeout(timer));
  arm();
}
