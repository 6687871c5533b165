import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  coerceInputValue,
  type GraphQLInputObjectType,
  type GraphQLInputType,
  GraphQLList,
  GraphQLNonNull,
  type GraphQLSchema,
  isInputObjectType,
} from 'graphql';
import type { AuthenticatedCaller, Caller } from '../auth/caller';
import type { TokenVerifier } from '../auth/token-verifier';
import {
  BadUserInputError,
  BillingError,
  CLIENT_ERROR_CODES,
  ErrorCode,
  RateLimitedError,
  UnauthenticatedError,
} from '../errors';
import type { Logger } from '../logging/logger';
import type { MutationRateLimiter } from '../services/rate-limit/mutation-rate-limiter';
import type { UsageFigures } from '../services/usage/usage-reader';
import type { RecordOutcome, UsageMeter } from '../services/usage/usage-meter';
import { type UsageInput, usageEventFor } from '../services/usage/usage-scope';
import { compileScalarObjectCoercion, type FastCoercion, listCoercion } from './usage-input';

export interface UsageRouteParts {
  /** The GraphQL schema: the routes coerce their input with its `RecordUsageInput`, so they cannot drift from it. */
  schema: GraphQLSchema;
  verifier: TokenVerifier;
  meter: UsageMeter;
  /** The per-account budgets GraphQL's usage mutations spend (`usage` class; the service role is exempt). */
  limiter: MutationRateLimiter;
  logger: Logger;
}

/** The HTTP status of each refusal; anything not listed that a client may see is a 400. */
const STATUS_OF: Readonly<Record<string, number>> = {
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.USAGE_LIMIT_EXCEEDED]: 402,
  [ErrorCode.CONFLICT]: 409,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
};

/**
 * `POST /usage/batch`: `recordUsageBatch` without GraphQL (ADR 0030); `POST /usage/record` likewise for
 * `recordUsage` (`{"input": RecordUsageInput}` in, `{"data": {"recordUsage": …}}` out). The body is the mutation's variables,
 * `{"input": [RecordUsageInput, …]}`, and a 200 answers what `recordUsageBatch { duplicate usage { … } }` answers,
 * `{"data": {"recordUsageBatch": [...]}}`; a refusal answers `{"errors": [{message, extensions: {code, …}}]}` with
 * the same codes (and an HTTP status: 400, 401, 402, 403, 409, 429). Same bearer token, same scoping
 * (usage-scope.ts), same rate limit, same validation (the records' fields coerced by GraphQL's own scalars, then
 * the meter's rules), same all-or-none transaction and idempotency: only GraphQL's per-item work is skipped.
 */
export function registerUsageRoutes(app: FastifyInstance, parts: UsageRouteParts): void {
  const one = recordUsageInputOf(parts.schema);
  const many = new GraphQLNonNull(new GraphQLList(one));
  const fastOne = compileScalarObjectCoercion(one.ofType);
  const fastMany = fastOne && listCoercion(fastOne);
  usageRoute(app, parts, '/usage/batch', async (body, caller) => {
    const inputs = coerced<UsageInput[]>(body, many, fastMany);
    await spendBudget(parts.limiter, caller);
    const outcomes = await parts.meter.recordBatch(inputs.map((input) => usageEventFor(caller, input)));
    const dates = new IsoDates();
    return { recordUsageBatch: outcomes.map((outcome) => wireOutcome(outcome, dates)) };
  });
  // One record (what the usage middleware sends per request): `recordUsage`'s variables in, its answer out.
  usageRoute(app, parts, '/usage/record', async (body, caller) => {
    const input = coerced<UsageInput>(body, one, fastOne);
    await spendBudget(parts.limiter, caller);
    return {
      recordUsage: wireOutcome(await parts.meter.record(usageEventFor(caller, input)), new IsoDates()),
    };
  });
}

/** A POST route of the usage API: the caller authenticated first, the answer `{"data": …}` or a refusal. */
function usageRoute(
  app: FastifyInstance,
  parts: UsageRouteParts,
  url: string,
  record: (body: unknown, caller: AuthenticatedCaller) => Promise<Record<string, unknown>>,
): void {
  app.route({
    url,
    method: 'POST',
    errorHandler: requestErrors(parts.logger),
    handler: async (request, reply) => {
      // As every GraphQL answer (operationPlugin): usage figures are the caller's own, never for a cache.
      void reply.header('cache-control', 'no-store');
      try {
        const caller = await callerOf(parts.verifier, request.headers.authorization);
        if (caller.kind !== 'authenticated') throw new UnauthenticatedError();
        request.accountId = caller.accountId;
        const data = await record(request.body, caller);
        return reply.type('application/json; charset=utf-8').send(JSON.stringify({ data }));
      } catch (error) {
        return sendRefusal(reply, error, parts.logger);
      }
    },
  });
}

async function spendBudget(limiter: MutationRateLimiter, caller: AuthenticatedCaller): Promise<void> {
  const refusal = await limiter.take(caller, 'usage');
  if (refusal) throw new RateLimitedError(refusal.retryAfterSeconds, refusal.mutationClass);
}

async function callerOf(verifier: TokenVerifier, authorization: string | undefined): Promise<Caller> {
  return verifier.knownCaller(authorization) ?? verifier.callerFrom(authorization);
}

/** What `UsageRecordResult { duplicate usage { … } }` serializes to: the schema's fields, dates in ISO 8601. */
function wireOutcome(outcome: RecordOutcome, dates: IsoDates) {
  return { duplicate: outcome.duplicate, usage: wireUsage(outcome.usage, dates) };
}

function wireUsage(usage: UsageFigures, dates: IsoDates) {
  return {
    metric: usage.metric,
    used: usage.used,
    included: usage.included,
    remaining: usage.remaining,
    overage: usage.overage,
    periodStart: dates.of(usage.periodStart),
    periodEnd: dates.of(usage.periodEnd),
  };
}

/**
 * An answer's dates in ISO 8601, each written once: a batch's records share their counters' periods, and 200
 * `toISOString` calls were 6 % of the service's CPU on `POST /usage/batch` of 100 (profiled 2026-12-07).
 */
class IsoDates {
  private readonly written = new Map<number, string>();

  of(date: Date): string {
    const time = date.getTime();
    let iso = this.written.get(time);
    if (iso === undefined) {
      iso = date.toISOString();
      this.written.set(time, iso);
    }
    return iso;
  }
}

function recordUsageInputOf(schema: GraphQLSchema): GraphQLNonNull<GraphQLInputObjectType> {
  const type = schema.getType('RecordUsageInput');
  if (!isInputObjectType(type)) throw new Error('the GraphQL schema has no RecordUsageInput input type');
  return new GraphQLNonNull(type);
}

/**
 * The body's `input`, coerced by GraphQL's own `coerceInputValue` with the schema's type, exactly as GraphQL
 * coerces the mutation's variables (an Int a 32-bit whole number, a date RFC 3339, unknown fields refused, one
 * object where a list is expected taken as a list of one); the first error is a BAD_USER_INPUT naming where.
 * The meter then applies the rules every caller shares (usage-validation.ts). `fast` answers the same for the
 * values it takes as they are (usage-input.ts), at a fraction of the cost; the rest is GraphQL's to coerce or refuse.
 */
function coerced<T>(body: unknown, type: GraphQLInputType, fast: FastCoercion<unknown> | null): T {
  if (!isObject(body)) throw new BadUserInputError('The body must be a JSON object {"input": …}', 'input');
  const quick = fast?.(body.input);
  if (quick !== undefined) return quick as T;
  let refusal: BadUserInputError | undefined;
  const value = coerceInputValue(body.input, type, (path, _invalid, error) => {
    const at = `input${path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${key}`)).join('')}`;
    refusal ??= new BadUserInputError(`${at}: ${error.message.slice(0, 200)}`, at);
  });
  if (refusal) throw refusal;
  return value as T;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A refusal in GraphQL's error shape; anything unexpected is logged and masked, as GraphQL masks it. */
function sendRefusal(reply: FastifyReply, error: unknown, logger: Logger): FastifyReply {
  const code = error instanceof BillingError ? String(error.extensions.code) : undefined;
  if (error instanceof BillingError && code && CLIENT_ERROR_CODES.has(code)) {
    const retryAfter = error.extensions.retryAfterSeconds;
    if (typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
    const body = { errors: [{ message: error.message, extensions: { ...error.extensions } }] };
    return reply.code(STATUS_OF[code] ?? 400).send(body);
  }
  logger.error({ err: error }, 'unexpected error on a usage route (/usage/record, /usage/batch)');
  return reply.code(500).send(errorBody('Internal server error', ErrorCode.INTERNAL_SERVER_ERROR));
}

/** Requests refused before the handler (a body too large, not JSON): in the same shape, with a code. */
function requestErrors(logger: Logger) {
  return (error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void => {
    const status = error.statusCode ?? 500;
    if (status === 413)
      void reply.code(413).send(errorBody('The request body is too large', ErrorCode.PAYLOAD_TOO_LARGE));
    else if (status >= 400 && status < 500)
      void reply.code(status).send(errorBody(error.message, 'BAD_REQUEST'));
    else void sendRefusal(reply, error, logger);
  };
}

function errorBody(message: string, code: string) {
  return { errors: [{ message, extensions: { code } }] };
}
