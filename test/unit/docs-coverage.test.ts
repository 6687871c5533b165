import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ErrorCode } from '../../src/errors';

const read = (path: string) => readFileSync(resolve(__dirname, '../..', path), 'utf8');

/** docs/deployment.md is the production configuration reference: every variable config.ts reads is in it. */
describe('docs/deployment.md', () => {
  const source = read('src/config.ts');
  const deployment = read('docs/deployment.md');
  const schemaBlock = source.slice(source.indexOf('const environmentSchema'), source.indexOf('.superRefine'));
  const variables = [...schemaBlock.matchAll(/^\s{4}([A-Z][A-Z0-9_]+):/gm)].map(
    (match) => match[1] as string,
  );

  it('names every variable the service reads (add a row to its Configuration table)', () => {
    expect(variables.length).toBeGreaterThan(10);
    expect(variables.filter((name) => !deployment.includes(`\`${name}\``))).toEqual([]);
  });
});

/** docs/integration-frontend.md tells a frontend what to do with every error code a caller can get. */
describe('docs/integration-frontend.md', () => {
  const guide = read('docs/integration-frontend.md');

  it('has a row for every error code (add it to the Errors table)', () => {
    expect(Object.values(ErrorCode).filter((code) => !guide.includes(`| \`${code}\` |`))).toEqual([]);
  });
});
