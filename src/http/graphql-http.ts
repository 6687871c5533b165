import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
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
import { graphqlMetricsPlugin } from '../graphql/graphql-metrics';
import { precheckRequest, queryLimitsRule } from '../graphql/query-limits';
import { retryAfterHeaderPlugin } from '../graphql/rate-limit';
import type { Logger } from '../logging/logger';
import { operationErrorLogPlugin } from '../observability/request-scope';
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
    // Masking only: the operation's errors are logged by operationErrorLogPlugin, with the request's ids.
    formatError: (formatted, error) => formatError(formatted, () => undefined, error),
    plugins: [
      fastifyApolloDrainPlugin(app),
      graphqlMetricsPlugin(parts.metrics),
      operationErrorLogPlugin<RequestContext>(),
      retryAfterHeaderPlugin(),
      onDrain(parts.disposeSockets),
      graphql.sandbox
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
        : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();
  app.route({
    url: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    // Counted with the lexer before Apollo parses: an enormous or absurdly nested document is never parsed.
    preHandler: refuseOversizedDocuments(graphql.limits),
    // Requests refused before Apollo (body too large, not JSON) answer in GraphQL's shape, with a code.
    errorHandler: graphqlRequestErrors(graphql.maxBodyBytes),
    handler: fastifyApolloHandler(apollo, {
      context: async (request) => {
        const caller = await httpCaller(parts.verifier, request.headers.authorization);
        if (caller.kind === 'authenticated') request.accountId = caller.accountId;
        const log = () =>
          caller.kind === 'authenticated' ? request.log.child({ accountId: caller.accountId }) : request.log;
        return parts.contextFor(caller, request.id, log);
      },
    }),
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
