import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitUntil } from '../support/wait';

const ROOT = resolve(__dirname, '../..');

function portIsOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      done(true);
    });
    socket.on('error', () => done(false));
  });
}

/**
 * The newcomer's path: `npm run dev` with no environment at all starts an embedded PostgreSQL, migrates,
 * serves GraphQL and prints a development token, within 15 seconds.
 */
describe('npm run dev with no environment', () => {
  let child: ChildProcess;
  let output = '';
  const port = 41000 + Math.floor(Math.random() * 2000);
  const postgresPort = 43000 + Math.floor(Math.random() * 2000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
    }
  });

  it('is ready within 15 s, answers GraphQL with the printed token, and stops everything on Ctrl-C', async () => {
    // PostgreSQL runs as the postgres user when we are root: it must be able to enter the folder.
    const dataDir = mkdtempSync(join(tmpdir(), 'billing-dev-'));
    chmodSync(dataDir, 0o755);
    const started = Date.now();
    child = spawn(process.execPath, ['-r', '@swc-node/register', 'scripts/dev.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: String(port),
        DEV_POSTGRES_PORT: String(postgresPort),
        DEV_DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
      },
    });
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });

    await waitUntil(() => output.includes('CODITECT Billing is ready'), 'npm run dev is ready', 15_000).catch(
      (error) => {
        throw new Error(`${(error as Error).message}; it printed:\n${output}`);
      },
    );
    expect(Date.now() - started).toBeLessThan(15_000);

    const token = /Authorization: Bearer (\S+)/.exec(output)?.[1];
    expect(token).toBeDefined();
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ __typename viewer { id } }' }),
    });
    expect(await response.json()).toEqual({ data: { __typename: 'Query', viewer: { id: 'acct_demo' } } });
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    expect(await portIsOpen(postgresPort)).toBe(true);

    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGINT');
    await exited;
    await waitUntil(
      async () => !(await portIsOpen(postgresPort)),
      'the embedded PostgreSQL has stopped',
      10_000,
    );
    expect(await portIsOpen(port)).toBe(false);
  }, 40_000);
});
