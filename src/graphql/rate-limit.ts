import {
  defaultFieldResolver,
  type GraphQLField,
  type GraphQLFormattedError,
  type GraphQLSchema,
  isObjectType,
} from 'graphql';
import { ErrorCode, RateLimitedError } from '../errors';
import { type MutationRateLimiter, STRIPE_READ_FIELDS } from '../services/rate-limit/mutation-rate-limiter';
import type { RequestContext } from './context';

/**
 * Puts the per-account rate limits in front of every limited mutation of `schema`, in place, and returns it.
 * One place for every transport: HTTP and graphql-ws run the same resolvers. Only the listed root fields are
 * wrapped (the mutations and the two Stripe-calling queries); a type-graphql global middleware would wrap
 * every field of every type, on every query.
 */
export function limitMutations(schema: GraphQLSchema, limiter: MutationRateLimiter): GraphQLSchema {
  const fields = [
    ...Object.values(schema.getMutationType()?.getFields() ?? {}).map((field) => ({
      field,
      key: field.name,
    })),
    // The queries that call Stripe (see MUTATION_CLASSES) spend the same budget as the Stripe mutations.
    ...Object.values(schema.getQueryType()?.getFields() ?? {}).map((field) => ({ field, key: field.name })),
    // The viewer's fields that read Stripe spend a budget of their own (STRIPE_READ_FIELDS).
    ...STRIPE_READ_FIELDS.map((coordinate) => ({ field: fieldAt(schema, coordinate), key: coordinate })),
  ];
  for (const { field, key } of fields) {
    const mutationClass = limiter.classOf(key);
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

/** The field a `Type.field` coordinate names; a coordinate the schema lacks is a bug here, so it fails at start. */
function fieldAt(schema: GraphQLSchema, coordinate: string): GraphQLField<unknown, RequestContext> {
  const [typeName, fieldName] = coordinate.split('.');
  const type = schema.getType(typeName);
  const field = isObjectType(type) ? type.getFields()[fieldName] : undefined;
  if (!field) throw new Error(`rate limits: the schema has no field ${coordinate}`);
  return field;
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
