import type {
  ApolloServerPlugin,
  GraphQLRequestContextDidEncounterErrors,
  GraphQLRequestContextWillSendResponse,
  GraphQLRequestListener,
} from '@apollo/server';
import type { GraphQLMetrics } from '../observability/metrics';
import { type LoggingContext, logOperationErrors } from '../observability/request-scope';
import { errorCodeLabel } from './graphql-metrics';
import { retryAfterSecondsOf } from './rate-limit';

/**
 * What every HTTP GraphQL operation gets from us, in one Apollo plugin with one listener per request:
 * - metrics: counted by operation name, type and the code of its first error (`OK` without errors), and timed
 *   (`billing_graphql_operations_total`, `billing_graphql_operation_duration_seconds`). Requests refused before
 *   Apollo runs an operation (a bad token answered 401, a malformed HTTP request) are not operations;
 * - error logging: each failed operation's errors once, through the request's own logger (request-scope.ts);
 * - `Retry-After` on an answer that carries RATE_LIMITED errors (the longest wait among them);
 * - `Cache-Control: no-store` on every answer, as Apollo's cache-control plugin set it for a schema without cache
 *   hints (that plugin is off: it hooked every resolved field to find none). An answer is the caller's own data.
 *
 * One plugin, not three: Apollo runs every hook of a request over every listener, each through a promise
 * (`Promise.all` of the listeners, an `await` per listener for the hooks that may answer), so each listener
 * costs on every request, even for hooks it does not have. Three listeners were about 7 KB of garbage per
 * request (bench/README.md, 2026-12-06 06:00 UTC); one class instance per request holds the two values the
 * hooks share, with no closures.
 */
export function operationPlugin<Context extends LoggingContext>(
  metrics: GraphQLMetrics,
): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return new OperationListener<Context>(metrics);
    },
  };
}

class OperationListener<Context extends LoggingContext> implements GraphQLRequestListener<Context> {
  private readonly started = performance.now();
  private code = 'OK';

  constructor(private readonly metrics: GraphQLMetrics) {}

  async didEncounterErrors({
    contextValue,
    errors,
    operationName,
  }: GraphQLRequestContextDidEncounterErrors<Context>): Promise<void> {
    if (this.code === 'OK' && errors[0]) this.code = errorCodeLabel(errors[0]);
    logOperationErrors(contextValue.log, errors, operationName ?? null);
  }

  async willSendResponse({
    operationName,
    request,
    operation,
    response,
  }: GraphQLRequestContextWillSendResponse<Context>): Promise<void> {
    this.metrics.operation(
      operationName ?? request.operationName,
      operation?.operation ?? 'unknown',
      this.code,
      (performance.now() - this.started) / 1000,
    );
    response.http.headers.set('cache-control', 'no-store');
    if (response.body.kind !== 'single') return;
    const seconds = retryAfterSecondsOf(response.body.singleResult.errors);
    if (seconds > 0) response.http.headers.set('retry-after', String(seconds));
  }
}
