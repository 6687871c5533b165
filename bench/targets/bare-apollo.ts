/** The baseline: a bare Apollo Server on Fastify with a one-field schema, nothing else. */
import { ApolloServer } from '@apollo/server';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import Fastify from 'fastify';

async function main(): Promise<void> {
  const app = Fastify({ logger: false });
  const apollo = new ApolloServer({
    typeDefs: 'type Query { hello: String }',
    resolvers: { Query: { hello: () => 'world' } },
    plugins: [fastifyApolloDrainPlugin(app)],
  });
  await apollo.start();
  app.route({ url: '/graphql', method: ['GET', 'POST', 'OPTIONS'], handler: fastifyApolloHandler(apollo) });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  console.log(`READY ${url}`);
  process.once('SIGTERM', () => void apollo.stop().then(() => process.exit(0)));
}

void main();
