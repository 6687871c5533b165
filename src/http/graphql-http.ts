import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { Caller } from '../auth/caller';
import type { TokenVerifier } from '../auth/token-verifier';
import type { Config } from '../config';
import { ErrorCode } from '../errors';
import type { RequestContext } from '../graphql/context';
import { formatError } from '../graphql/format-error';
import { operationPlugin } from '../graphql/operation-plugin';
import { PassedDocuments, precheckRequest, queryLimitsRule } from '../graphql/query-limits';
import type { Logger } from '../logging/logger';
import type { GraphQLMetrics } from '../observability/metrics';

/** Makes one operation's context: its caller, its request id, and its logger (made only if it logs). */
export type ContextFactory = (caller: Caller, requestId: string, log: () => Logger) => RequestContext;

export interface GraphQLHttpParts {
  schema: GraphQLSchema;
  graphql: Config['graphql'];
  verifier: TokenVerifier;
  contextFor: ContextFactory;
  metrics: GraphQLMetrics;
  /** Closes the WebSockets when Apollo drains (they share `/graphql`). */
  disposeSockets: () => Promise<void>;
}

/** Apollo Server on `POST|GET /graphql`; resolves to what stops it (draining requests and sockets). */
export async function serveGraphQLOverHttp(
  app: FastifyInstance,
  parts: GraphQLHttpParts,
): Promise<() => Promise<void>> {
  const { graphql } = parts;
  const apollo = new ApolloServer<RequestContext>({
    schema: parts.schema,
    introspection: graphql.introspection,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    // HTTP batching (an array body) stays off (Apollo's default): one request, one operation, one set of limits.
    allowBatchedHttpRequests: false,
    parseOptions: { maxTokens: graphql.limits.maxTokens },
    validationRules: [queryLimitsRule(graphql.limits)],
    // Masking only: the operation's errors are logged by operationPlugin, with the request's ids.
    formatError: (formatted, error) => formatError(formatted, () => undefined, error),
    plugins: [
      fastifyApolloDrainPlugin(app),
      operationPlugin<RequestContext>(parts.metrics),
      onDrain(parts.disposeSockets),
      // Apollo installs these two unless told not to, and each is a listener on every request: cache control
      // computes a policy from `@cacheControl` hints (the schema has none: every answer was `no-store`, which
      // operationPlugin now sets) and hooks every resolved field to do it; the inline trace serves federation
      // gateways (this is no subgraph) and only checked so per request.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      graphql.sandbox
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
        : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();
  const { verifier, contextFor } = parts;
  const apolloHandler = fastifyApolloHandler(apollo, {
    context: async (request) => {
      const { authorization } = request.headers;
      // A token seen before is known without a promise of its own; a new one is verified (and remembered).
      const caller = verifier.knownCaller(authorization) ?? (await httpCaller(verifier, authorization));
      if (caller.kind === 'authenticated') request.accountId = caller.accountId;
      const log = () =>
        caller.kind === 'authenticated' ? request.log.child({ accountId: caller.accountId }) : request.log;
      return contextFor(caller, request.id, log);
    },
  });
  const { limits } = graphql;
  const passed = new PassedDocuments(limits);
  // `Reply: string` is what Apollo's handler answers with; a refusal is serialized here as Fastify would.
  app.route<{ Reply: string }>({
    url: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    // Requests refused before Apollo (body too large, not JSON) answer in GraphQL's shape, with a code.
    errorHandler: graphqlRequestErrors(graphql.maxBodyBytes),
    handler: (request, reply) => {
      // Counted with the lexer before Apollo parses: an enormous or absurdly nested document is never parsed.
      // In the handler rather than a preHandler hook, which would cost every request a hook stage of its own.
      const payload = request.method === 'GET' ? request.query : request.body;
      const refusal = precheckRequest(payload, limits, passed);
      if (refusal) {
        void reply
          .code(400)
          .type('application/json; charset=utf-8')
          .send(JSON.stringify({ errors: [refusal.toJSON()] }));
        return undefined;
      }
      return apolloHandler.call(app, request, reply);
    },
  });
  return () => apollo.stop();
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

function onDrain(dispose: () => Promise<void>): ApolloServerPlugin {
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
