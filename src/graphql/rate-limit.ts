import { defaultFieldResolver, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { ErrorCode, RateLimitedError } from '../errors';
import type { MutationRateLimiter } from '../services/rate-limit/mutation-rate-limiter';
import type { RequestContext } from './context';

/**
 * Puts the per-account rate limits in front of every limited mutation of `schema`, in place, and returns it.
 * One place for every transport: HTTP and graphql-ws run the same resolvers. Only the listed root fields are
 * wrapped (the mutations and the two Stripe-calling queries); a type-graphql global middleware would wrap
 * every field of every type, on every query.
 */
export function limitMutations(schema: GraphQLSchema, limiter: MutationRateLimiter): GraphQLSchema {
  const fields = [
    ...Object.values(schema.getMutationType()?.getFields() ?? {}),
    // The queries that call Stripe (see MUTATION_CLASSES) spend the same budget as the Stripe mutations.
    ...Object.values(schema.getQueryType()?.getFields() ?? {}),
  ];
  for (const field of fields) {
    const mutationClass = limiter.classOf(field.name);
    if (!mutationClass) continue;
    const resolve = field.resolve ?? defaultFieldResolver;
    field.resolve = async (source, args, context: RequestContext, info) => {
      const refusal = await limiter.take(context.caller, mutationClass);
      if (refusal) throw new RateLimitedError(refusal.retryAfterSeconds, refusal.mutationClass);
      return resolve(source, args, context, info);
    };
  }
  return schema;
}

/**
 * The `Retry-After` of an HTTP answer that carries RATE_LIMITED errors: the longest wait among them (0: none).
 * The status stays what GraphQL over HTTP says (200 for errors raised while executing), so clients read the
 * error, with `extensions.retryAfterSeconds`, where they read every other one.
 */
export function retryAfterSecondsOf(errors: readonly GraphQLFormattedError[] | undefined): number {
  let seconds = 0;
  for (const error of errors ?? []) {
    const wait = error.extensions?.retryAfterSeconds;
    if (error.extensions?.code === ErrorCode.RATE_LIMITED && typeof wait === 'number')
      seconds = Math.max(seconds, wait);
  }
  return seconds;
}
