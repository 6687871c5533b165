import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, GraphQLID, GraphQLInt, type GraphQLScalarType, GraphQLString } from 'graphql';
import { GraphQLISODateTime } from 'type-graphql';
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

export interface UsageRouteParts {
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
  usageRoute(app, parts, '/usage/batch', async (body, caller) => {
    const inputs = inputsOf(body);
    await spendBudget(parts.limiter, caller);
    const outcomes = await parts.meter.recordBatch(inputs.map((input) => usageEventFor(caller, input)));
    return { recordUsageBatch: outcomes.map(wireOutcome) };
  });
  // One record (what the usage middleware sends per request): `recordUsage`'s variables in, its answer out.
  usageRoute(app, parts, '/usage/record', async (body, caller) => {
    const input = inputOf(isObject(body) ? body.input : undefined, 'input');
    await spendBudget(parts.limiter, caller);
    return { recordUsage: wireOutcome(await parts.meter.record(usageEventFor(caller, input))) };
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
function wireOutcome(outcome: RecordOutcome) {
  return { duplicate: outcome.duplicate, usage: wireUsage(outcome.usage) };
}

function wireUsage(usage: UsageFigures) {
  return {
    metric: usage.metric,
    used: usage.used,
    included: usage.included,
    remaining: usage.remaining,
    overage: usage.overage,
    periodStart: usage.periodStart.toISOString(),
    periodEnd: usage.periodEnd.toISOString(),
  };
}

/** `RecordUsageInput`'s fields and the scalar GraphQL coerces each with; `!` marks the required ones. */
const FIELDS: ReadonlyArray<{ name: keyof UsageInput; scalar: GraphQLScalarType; required: boolean }> = [
  { name: 'metric', scalar: GraphQLString, required: true },
  { name: 'quantity', scalar: GraphQLInt, required: true },
  { name: 'idempotencyKey', scalar: GraphQLString, required: true },
  { name: 'accountId', scalar: GraphQLID, required: false },
  { name: 'occurredAt', scalar: GraphQLISODateTime, required: false },
];
const FIELD_NAMES = new Set<string>(FIELDS.map(({ name }) => name));

/**
 * The body's records, each field coerced as GraphQL coerces the mutation's variables (the same scalars: an Int
 * is a 32-bit whole number, an ID a string or whole number, a date an RFC 3339 string), unknown fields refused.
 * The meter then applies the rules every caller shares (usage-validation.ts).
 */
function inputsOf(body: unknown): UsageInput[] {
  const input = isObject(body) ? body.input : undefined;
  if (!Array.isArray(input))
    throw new BadUserInputError('The body must be {"input": [RecordUsageInput, …]}', 'input');
  return input.map((item: unknown, index) => inputOf(item, `input[${index}]`));
}

function inputOf(item: unknown, at: string): UsageInput {
  if (!isObject(item)) throw new BadUserInputError(`${at} must be a RecordUsageInput object`, at);
  for (const name of Object.keys(item))
    if (!FIELD_NAMES.has(name))
      throw new BadUserInputError(
        `${at}: field "${name.slice(0, 64)}" is not defined by RecordUsageInput`,
        `${at}.${name.slice(0, 64)}`,
      );
  const coerced: Record<string, unknown> = {};
  for (const { name, scalar, required } of FIELDS) {
    const value = item[name];
    if (value === undefined || value === null) {
      if (required) throw new BadUserInputError(`${at}.${name} is required`, `${at}.${name}`);
      continue;
    }
    try {
      coerced[name] = scalar.parseValue(value);
    } catch (error) {
      const reason = error instanceof GraphQLError ? error.message : 'invalid value';
      throw new BadUserInputError(`${at}.${name}: ${reason.slice(0, 200)}`, `${at}.${name}`);
    }
  }
  return coerced as unknown as UsageInput;
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
  logger.error({ err: error }, 'unexpected error on /usage/batch');
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
