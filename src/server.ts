import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Caller } from './auth/caller';
import type { TokenVerifier } from './auth/token-verifier';
import type { Config } from './config';
import type { Orm } from './database/database';
import { RequestContext } from './graphql/context';
import { formatError } from './graphql/format-error';
import { registerBillingPageRoutes } from './http/billing-page.routes';
import { registerHealthRoutes, type ReadinessCheck } from './http/health.routes';
import type { PinoLogger } from './logger';
import { graphqlMetricsPlugin, liveSubscriptionHooks } from './observability/graphql-metrics';
import type { BillingMetrics } from './observability/metrics';
import { registerMetricsRoute } from './observability/metrics.routes';
import { noteAccount, registerRequestScope } from './observability/request-scope';
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
  });
  registerRequestScope(app);
  let closing = false;
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // While shutting down, keep-alive clients are told to reconnect elsewhere instead of holding the close up.
    if (closing) reply.header('connection', 'close');
  });

  const sockets = new WebSocketServer({ server: app.server, path: '/graphql' });
  const socketServer = useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      schema,
      // Authenticated once, at connection_init: a bad token never gets a live subscription.
      onConnect: async (context) => {
        try {
          const authorization = context.connectionParams?.authorization;
          context.extra.caller = await verifier.callerFrom(
            typeof authorization === 'string' ? authorization : null,
          );
          return true;
        } catch {
          return false;
        }
      },
      context: (context) =>
        new RequestContext(context.extra.caller ?? { kind: 'anonymous' }, randomUUID(), orm, services),
      ...liveSubscriptionHooks(metrics.graphql),
    },
    sockets,
  );

  const apollo = new ApolloServer<RequestContext>({
    schema,
    introspection: config.graphql.introspection,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    formatError: (formatted, error) =>
      formatError(formatted, () => app.log.error({ err: error }, 'unexpected error in a GraphQL operation')),
    plugins: [
      fastifyApolloDrainPlugin(app),
      graphqlMetricsPlugin(metrics.graphql),
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
    handler: fastifyApolloHandler(apollo, {
      context: async (request) => {
        const caller = await httpCaller(verifier, request.headers.authorization);
        if (caller.kind === 'authenticated') noteAccount(caller.accountId);
        return new RequestContext(caller, request.id, orm, services);
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
