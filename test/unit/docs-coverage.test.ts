import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** docs/deployment.md is the production configuration reference: every variable config.ts reads is in it. */
describe('docs/deployment.md', () => {
  const source = readFileSync(resolve(__dirname, '../../src/config.ts'), 'utf8');
  const deployment = readFileSync(resolve(__dirname, '../../docs/deployment.md'), 'utf8');
  const schemaBlock = source.slice(source.indexOf('const environmentSchema'), source.indexOf('.superRefine'));
  const read = [...schemaBlock.matchAll(/^\s{4}([A-Z][A-Z0-9_]+):/gm)].map((match) => match[1] as string);

  it('names every variable the service reads (add a row to its Configuration table)', () => {
    expect(read.length).toBeGreaterThan(10);
    expect(read.filter((name) => !deployment.includes(`\`${name}\``))).toEqual([]);
  });
});
