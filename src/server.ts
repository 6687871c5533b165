import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { type FormattedExecutionResult, GraphQLError, type GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Caller } from './auth/caller';
import type { TokenVerifier } from './auth/token-verifier';
import type { Config } from './config';
import type { Orm } from './database/database';
import { ErrorCode, UnauthenticatedError } from './errors';
import { RequestContext } from './graphql/context';
import { formatError } from './graphql/format-error';
import { checkSocketOperation, precheckRequest, queryLimitsRule } from './graphql/query-limits';
import { retryAfterHeaderPlugin } from './graphql/rate-limit';
import { registerBillingPageRoutes } from './http/billing-page.routes';
import { registerHealthRoutes, type ReadinessCheck } from './http/health.routes';
import type { PinoLogger } from './logging/pino-logger';
import { graphqlMetricsPlugin, liveSubscriptionHooks } from './observability/graphql-metrics';
import type { BillingMetrics } from './observability/metrics';
import { registerMetricsRoute } from './observability/metrics.routes';
import { lazyChildLogger } from './observability/lazy-request-logger';
import { operationErrorLogPlugin } from './observability/request-scope';
import type { BillingServices } from './services/billing-services';
import { registerWebhookRoutes } from './webhooks/webhook.routes';
import type { WebhookProcessor } from './webhooks/webhook-processor';

export interface ServerParts {
  config: Config;
  schema: GraphQLSchema;
  orm: Orm;
  services: BillingServices;
  logger: PinoLogger;
  verifier: TokenVerifier;
  readinessChecks: ReadinessCheck[];
  /** This instance's Prometheus metrics, served at `GET /metrics`. */
  metrics: BillingMetrics;
  /** The Stripe webhook endpoint's processor, when Stripe is configured. */
  webhooks: { secrets: readonly string[]; processor: WebhookProcessor } | null;
}

export interface HttpServer {
  app: FastifyInstance;
  /** Starts listening; resolves to the base URL, e.g. http://127.0.0.1:4000. */
  listen(): Promise<string>;
  /** Stops accepting, lets in-flight requests finish, closes every WebSocket. */
  close(): Promise<void>;
}

interface SocketExtra extends Record<PropertyKey, unknown> {
  caller?: Caller;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Assembles the HTTP side: Fastify with `/graphql` (Apollo for queries and mutations, graphql-ws for
 * subscriptions on the same path and port) and the health routes.
 */
export async function createHttpServer(parts: ServerParts): Promise<HttpServer> {
  const { config, schema, orm, services, verifier, metrics } = parts;
  const app = Fastify({
    // pino's Logger is Fastify's base logger; the cast keeps Fastify's default generics for the plugins.
    loggerInstance: parts.logger as FastifyBaseLogger,
    bodyLimit: config.graphql.maxBodyBytes,
    // A caller's request id is kept (within reason) so one id follows a request across services.
    genReqId: (request: IncomingMessage) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    // The request's child logger is built only if the request logs something (most do not).
    childLoggerFactory: (logger, bindings, options) => lazyChildLogger(logger, bindings, options),
  });
  let closing = false;
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // While shutting down, keep-alive clients are told to reconnect elsewhere instead of holding the close up.
    if (closing) reply.header('connection', 'close');
  });

  // A WebSocket message is held to the HTTP body limit (ws' own default is 100 MiB); a larger one closes with 1009.
  const sockets = new WebSocketServer({
    server: app.server,
    path: '/graphql',
    maxPayload: config.graphql.maxBodyBytes,
  });
  const checkOperation = checkSocketOperation(schema, config.graphql.limits, config.graphql.introspection);
  const socketServer = useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      schema,
      // Authenticated once, at connection_init: a bad token never gets a live subscription. The caller is kept
      // for the socket's life, so it must not outlive its token: the socket is closed with 4403 when the token
      // expires (a client whose connectionParams supply a fresh token reconnects), and onSubscribe refuses
      // operations that arrive after that moment before the close takes effect.
      onConnect: async (context) => {
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
      },
      context: (context) => {
        const caller = context.extra.caller ?? { kind: 'anonymous' };
        const requestId = randomUUID();
        const log = () =>
          app.log.child({
            reqId: requestId,
            ...(caller.kind === 'authenticated' ? { accountId: caller.accountId } : {}),
          });
        return new RequestContext(caller, requestId, orm, services, log);
      },
      // The same token and query limits, introspection setting and error masking as over HTTP.
      onSubscribe: (context, _id, payload) =>
        hasExpired(context.extra.caller)
          ? [new UnauthenticatedError('The token has expired')]
          : checkOperation(payload),
      onNext: (_context, _id, _payload, _args, result): FormattedExecutionResult | undefined =>
        result.errors
          ? { ...result, errors: result.errors.map((error) => formatSocketError(error)) }
          : undefined,
      onError: (_context, _id, _payload, errors) => errors.map((error) => formatSocketError(error)),
      ...liveSubscriptionHooks(metrics.graphql),
    },
    sockets,
  );

  const formatSocketError = (error: GraphQLError) =>
    formatError(
      error.toJSON(),
      () => app.log.error({ err: error }, 'unexpected error in a GraphQL operation over WebSocket'),
      error,
    );

  const apollo = new ApolloServer<RequestContext>({
    schema,
    introspection: config.graphql.introspection,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    // HTTP batching (an array body) stays off (Apollo's default): one request, one operation, one set of limits.
    allowBatchedHttpRequests: false,
    parseOptions: { maxTokens: config.graphql.limits.maxTokens },
    validationRules: [queryLimitsRule(config.graphql.limits)],
    // Masking only: the operation's errors are logged by operationErrorLogPlugin, with the request's ids.
    formatError: (formatted, error) => formatError(formatted, () => undefined, error),
    plugins: [
      fastifyApolloDrainPlugin(app),
      graphqlMetricsPlugin(metrics.graphql),
      operationErrorLogPlugin<RequestContext>(),
      retryAfterHeaderPlugin(),
      closeSockets(() => socketServer.dispose()),
      config.graphql.sandbox
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
        : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  app.route({
    url: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    // Counted with the lexer before Apollo parses: an enormous or absurdly nested document is never parsed.
    preHandler: refuseOversizedDocuments(config.graphql.limits),
    // Requests refused before Apollo (body too large, not JSON) answer in GraphQL's shape, with a code.
    errorHandler: graphqlRequestErrors(config.graphql.maxBodyBytes),
    handler: fastifyApolloHandler(apollo, {
      context: async (request) => {
        const caller = await httpCaller(verifier, request.headers.authorization);
        const log = () =>
          caller.kind === 'authenticated' ? request.log.child({ accountId: caller.accountId }) : request.log;
        return new RequestContext(caller, request.id, orm, services, log);
      },
    }),
  });
  registerHealthRoutes(app, parts.readinessChecks);
  registerMetricsRoute(app, metrics, config.metrics.token);
  if (config.billingPage.enabled) registerBillingPageRoutes(app, config);
  const { webhooks } = parts;
  if (webhooks)
    registerWebhookRoutes(
      app,
      () => webhooks.secrets,
      () => webhooks.processor,
      parts.logger,
    );

  return {
    app,
    listen: () => app.listen({ host: config.host, port: config.port }),
    close: () => {
      closing = true;
      return apollo.stop();
    },
  };
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

/** A bad token fails the whole HTTP request with 401, before any resolver runs. */
async function httpCaller(verifier: TokenVerifier, authorization: string | undefined): Promise<Caller> {
  try {
    return await verifier.callerFrom(authorization);
  } catch (error) {
    if (error instanceof GraphQLError) {
      throw new GraphQLError(error.message, { extensions: { ...error.extensions, http: { status: 401 } } });
    }
    throw error;
  }
}

function refuseOversizedDocuments(limits: Config['graphql']['limits']) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const refusal = precheckRequest(request.method === 'GET' ? request.query : request.body, limits);
    if (refusal) await reply.code(400).send({ errors: [refusal.toJSON()] });
  };
}

function graphqlRequestErrors(maxBodyBytes: number) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const status = error.statusCode ?? 500;
    if (status === 413) {
      void reply
        .code(413)
        .send(
          errorBody(`The request body is larger than ${maxBodyBytes} bytes`, ErrorCode.PAYLOAD_TOO_LARGE),
        );
    } else if (status >= 400 && status < 500) {
      void reply.code(status).send(errorBody(error.message, 'BAD_REQUEST'));
    } else {
      request.log.error({ err: error }, 'unexpected error on /graphql');
      void reply.code(500).send(errorBody('Internal server error', ErrorCode.INTERNAL_SERVER_ERROR));
    }
  };
}

function errorBody(message: string, code: string) {
  return { errors: [{ message, extensions: { code } }] };
}

function closeSockets(dispose: () => Promise<void> | void): ApolloServerPlugin {
  return {
    async serverWillStart() {
      return {
        async drainServer() {
          await dispose();
        },
      };
    },
  };
}
