import { printSchema } from 'graphql';
import { InMemoryPubSub } from '../pubsub/in-memory-pubsub';
import { buildBillingSchema } from './schema';

/** The SDL committed as `schema.graphql`: what frontends code against, reviewed in every diff. */
export async function printBillingSchema(): Promise<string> {
  const pubSub = new InMemoryPubSub();
  const schema = await buildBillingSchema(pubSub);
  await pubSub.close();
  return `${printSchema(schema)}\n`;
}
