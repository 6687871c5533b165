/** `npm run schema:emit`: writes schema.graphql from the resolvers; a test fails when it is stale. */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { printBillingSchema } from '../src/resolvers';

printBillingSchema().then((sdl) => {
  writeFileSync(resolve(__dirname, '..', 'schema.graphql'), sdl);
  console.log('schema.graphql written');
});
