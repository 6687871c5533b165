import type { GraphQLError } from 'graphql';
import { CLIENT_ERROR_CODES } from '../errors';
import type { Logger } from '../logging/logger';

/**
 * Request ids in logs, without AsyncLocalStorage. On Node 20 an AsyncLocalStorage turns on promise hooks for
 * the whole process: every promise of every request pays for them, and a `feature(key)` check (many small
 * promises) cost about 40 % more CPU with them (bench/README.md). So the request's logger is passed explicitly
 * instead: Fastify's request logger (it carries `reqId`), bound to the caller's `accountId` once known, is the
 * operation's `context.log`; a failed operation is logged through it with the error's code and, for a Stripe
 * failure, Stripe's request id. Services log through the process logger: their lines carry their own ids (the
 * Stripe request id, the webhook event id), which is what support looks up.
 */

/** What an operation's context offers the logging of its errors. */
export interface LoggingContext {
  log: Logger;
}

/** Logs a failed operation's errors once each, through the operation's own (request-bound) logger. */
export function logOperationErrors(
  log: Logger,
  errors: readonly GraphQLError[],
  operationName: string | null,
): void {
  for (const error of errors) logOperationError(log, error, operationName);
}

function logOperationError(log: Logger, error: GraphQLError, operationName: string | null): void {
  const code = typeof error.extensions?.code === 'string' ? error.extensions.code : null;
  const stripeRequestId =
    typeof error.extensions?.stripeRequestId === 'string' ? error.extensions.stripeRequestId : undefined;
  const details = {
    operationName,
    code,
    path: error.path?.join('.') ?? null,
    ...(stripeRequestId ? { stripeRequestId } : {}),
  };
  if (code && CLIENT_ERROR_CODES.has(code)) {
    // A caller's mistake or a refusal: worth a line only when Stripe was involved (support looks those up).
    if (stripeRequestId) log.warn(details, 'graphql operation failed');
    else log.debug(details, 'graphql operation refused');
    return;
  }
  log.error({ ...details, err: error.originalError ?? error }, 'unexpected error in a GraphQL operation');
}
