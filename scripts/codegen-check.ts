/**
 * `npm run codegen:check` (part of `npm run lint`): fails when a generated file of codegen.ts is not what
 * `npm run codegen` would write now, i.e. schema.graphql or an operations.graphql changed without it. Generates
 * in memory and compares, so it writes nothing and needs no network.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { generate } from '@graphql-codegen/cli';
import config from '../codegen';

/** What `generate` answers per file of codegen.ts (its declared type also allows anything, for watch mode). */
interface GeneratedFile {
  filename: string;
  content: string;
}

async function main(): Promise<void> {
  const outputs: GeneratedFile[] = await generate({ ...config, silent: true }, false);
  const stale = outputs.filter((output) => {
    try {
      return readFileSync(resolve(output.filename), 'utf8') !== output.content;
    } catch {
      return true;
    }
  });
  for (const output of stale) console.error(`stale: ${output.filename}`);
  if (stale.length > 0) {
    console.error(
      'The generated GraphQL types are out of date: run `npm run codegen` and commit the result.',
    );
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
