import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Every variable config.ts reads is documented in .env.example, and nothing there is stale. */
describe('.env.example', () => {
  const source = readFileSync(resolve(__dirname, '../../src/config.ts'), 'utf8');
  const example = readFileSync(resolve(__dirname, '../../.env.example'), 'utf8');
  const schemaBlock = source.slice(source.indexOf('const environmentSchema'), source.indexOf('.superRefine'));
  const read = [...schemaBlock.matchAll(/^\s{4}([A-Z][A-Z0-9_]+):/gm)].map((match) => match[1]);
  const documented = [...example.matchAll(/^([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1]);

  it('documents every variable the service reads', () => {
    expect(read.length).toBeGreaterThan(10);
    expect(read.filter((name) => !documented.includes(name))).toEqual([]);
  });

  it('documents nothing the service and dev supervisor do not read', () => {
    const devOnly = ['DEV_POSTGRES_PORT', 'STRIPE_EMULATOR_PORT', 'DEV_DATA_DIR'];
    expect(documented.filter((name) => !read.includes(name) && !devOnly.includes(name))).toEqual([]);
  });
});
