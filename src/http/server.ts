import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { TokenVerifier } from '../auth/token-verifier';
import type { Config } from '../config';
import type { AccessLogger } from '../logging/access-logger';
import type { PinoLogger } from '../logging/pino-logger';
import { lazyChildLogger } from '../observability/lazy-request-logger';
import type { BillingMetrics } from '../observability/metrics';
import { registerMetricsRoute } from '../observability/metrics.routes';
import { registerWebhookRoutes } from '../webhooks/pipeline/webhook.routes';
import type { WebhookQueue } from '../webhooks/pipeline/webhook-queue';
import { registerAccessLog } from './access-log';
import { registerBillingPageRoutes } from './billing-page.routes';
import { type ContextFactory, serveGraphQLOverHttp } from './graphql-http';
import { serveGraphQLOverWebSocket } from './graphql-websocket';
import { type ReadinessCheck, registerHealthRoutes } from './health.routes';
import { registerUsageRoutes, type UsageRouteParts } from './usage.routes';

export interface HttpServerParts {
  config: Config;
  schema: GraphQLSchema;
  logger: PinoLogger;
  verifier: TokenVerifier;
  contextFor: ContextFactory;
  readinessChecks: ReadinessCheck[];
  /** This instance's Prometheus metrics, served at `GET /metrics`. */
  metrics: BillingMetrics;
  /** The access log (one line per request), or null when `ACCESS_LOG=off`. */
  accessLogger: AccessLogger | null;
  /** The Stripe webhook endpoint's queue (stores, then processes behind the answer), when Stripe is configured. */
  webhooks: { secrets: readonly string[]; queue: WebhookQueue } | null;
  /** `POST /usage/record` and `/usage/batch`: the usage mutations without GraphQL (ADR 0030). */
  usageRoutes: Omit<UsageRouteParts, 'schema' | 'verifier' | 'logger'>;
}

export interface HttpServer {
  app: FastifyInstance;
  /** Starts listening; resolves to the base URL, e.g. http://127.0.0.1:4000. */
  listen(): Promise<string>;
  /** Stops accepting, lets in-flight requests finish, closes every WebSocket. */
  close(): Promise<void>;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * The HTTP side: `/graphql` (Apollo for queries and mutations, graphql-ws for subscriptions on the same path and
 * port), `POST /usage/record` and `/usage/batch`, the Stripe webhook endpoint, health, metrics and (when
 * enabled) the billing page.
 */
export async function createHttpServer(parts: HttpServerParts): Promise<HttpServer> {
  const { config } = parts;
  const app = createFastify(config, parts.logger);
  if (parts.accessLogger) registerAccessLog(app, parts.accessLogger);
  else app.decorateRequest('accountId', null);
  let closing = false;
  // A callback hook, not an async one: it runs for every response, and needs no promise.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    // While shutting down, keep-alive clients are told to reconnect elsewhere instead of holding the close up.
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  const graphql = { schema: parts.schema, graphql: config.graphql, verifier: parts.verifier };
  const context = { contextFor: parts.contextFor, metrics: parts.metrics.graphql };
  const disposeSockets = serveGraphQLOverWebSocket(app, { ...graphql, ...context });
  const stopGraphQL = await serveGraphQLOverHttp(app, { ...graphql, ...context, disposeSockets });
  registerUsageRoutes(app, {
    ...parts.usageRoutes,
    schema: parts.schema,
    verifier: parts.verifier,
    logger: parts.logger,
  });
  registerHealthRoutes(app, parts.readinessChecks);
  registerMetricsRoute(app, parts.metrics, config.metrics.token);
  if (config.billingPage.enabled) registerBillingPageRoutes(app, config);
  const { webhooks } = parts;
  if (webhooks)
    registerWebhookRoutes(
      app,
      () => webhooks.secrets,
      () => webhooks.queue,
      parts.logger,
    );
  return {
    app,
    listen: () => app.listen({ host: config.host, port: config.port }),
    close: () => {
      closing = true;
      return stopGraphQL();
    },
  };
}

function createFastify(config: Config, logger: PinoLogger): FastifyInstance {
  const app = Fastify({
    // pino's Logger is Fastify's base logger; the cast keeps Fastify's default generics for the plugins.
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.graphql.maxBodyBytes,
    // A caller's request id is kept (within reason) so one id follows a request across services.
    genReqId: (request: IncomingMessage) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    // One access line per request instead of Fastify's two (http/access-log.ts).
    disableRequestLogging: true,
  });
  // The request's child logger is built only if the request logs something (most do not). Fastify 5 takes the
  // factory through this setter (a constructor option of that name is ignored), before any route is added.
  app.setChildLoggerFactory((logger, bindings, options) => lazyChildLogger(logger, bindings, options));
  return app;
}
