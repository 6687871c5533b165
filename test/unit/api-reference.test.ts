import { readFileSync } from 'node:fs';
import { EXAMPLES_FILE, REFERENCE_FILE, renderApiReference, SCHEMA_FILE } from '../../scripts/api-docs';

/**
 * docs/api-reference.md is generated from schema.graphql and docs/api-examples.graphql (`npm run docs:api`).
 * These fail when an operation has no example, an example no longer fits the schema, or the file is stale.
 */
describe('docs/api-reference.md', () => {
  const reference = renderApiReference(
    readFileSync(SCHEMA_FILE, 'utf8'),
    readFileSync(EXAMPLES_FILE, 'utf8'),
  );

  it('has an example for every query, mutation and subscription (add one to docs/api-examples.graphql)', () => {
    expect(reference.missingExamples).toEqual([]);
  });

  it('has only examples the schema accepts (fix them in docs/api-examples.graphql)', () => {
    expect(reference.invalidExamples).toEqual([]);
  });

  it('is what `npm run docs:api` writes from schema.graphql and the examples (run it if this fails)', () => {
    expect(readFileSync(REFERENCE_FILE, 'utf8')).toBe(reference.markdown);
  });

  it('names the operation that lacks an example, and the example the schema refuses', () => {
    const sdl = 'type Query { plans: [String!]! }\ntype Mutation { recordUsage(metric: String!): Int! }';
    const examples = '# The catalog\nquery { plans }\n\nmutation { recordUsage(metrc: "x") }\n';
    const result = renderApiReference(sdl, examples);
    expect(result.missingExamples).toEqual([
      expect.stringMatching(/^Mutation\.recordUsage has no example in docs\/api-examples\.graphql/),
    ]);
    expect(result.invalidExamples).toEqual([
      expect.stringMatching(/^docs\/api-examples\.graphql:4 mutation recordUsage: .*metrc/),
    ]);
    expect(result.markdown).toContain('The catalog\n\n```graphql\nquery { plans }\n```');
    expect(result.markdown).toContain('_No example yet._');
  });
});
