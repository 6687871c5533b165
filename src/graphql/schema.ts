import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import type { BillingPubSub } from '../pubsub/pubsub';
import { RESOLVERS } from '../resolvers';

/** Builds the executable schema; subscriptions read from `pubSub`. Input validation is on. */
export function buildBillingSchema(pubSub: BillingPubSub): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    pubSub,
    validate: { forbidUnknownValues: false },
    // Dates cross the API as ISO 8601 strings.
    scalarsMap: [],
  });
}
