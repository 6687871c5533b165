import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { resolve } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startTestService } from '../support/service';
import { connectSocket, subscribe } from '../support/ws-client';
import { waitUntil } from '../support/wait';

const ROOT = resolve(__dirname, '../..');

/** Runs the real entry point with exactly `env` and collects what it prints. */
function runMain(
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', `${ROOT}/src/main.ts`], {
      // An empty working directory, so a developer's own .env cannot change what is tested.
      cwd: `${ROOT}/test/support/empty-cwd`,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_PATH: `${ROOT}/node_modules`,
        SWC_NODE_PROJECT: `${ROOT}/tsconfig.json`,
        ...env,
      },
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`src/main.ts did not exit within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

describe('start-up and shutdown', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it('refuses to start without DATABASE_URL, naming it and saying what to set', async () => {
    const { code, output } = await runMain({ AUTH_JWT_SECRET: 'x'.repeat(40) });
    expect(code).toBe(1);
    expect(output).toMatch(/DATABASE_URL is required/);
    expect(output).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses to start with an invalid value, naming the variable', async () => {
    const { code, output } = await runMain({
      DATABASE_URL: database.url,
      AUTH_JWT_SECRET: 'x'.repeat(40),
      PORT: '99999',
    });
    expect(code).toBe(1);
    expect(output).toMatch(/PORT/);
    expect(output).not.toMatch(/\n\s+at /);
  });

  it('stops gracefully on SIGTERM', async () => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: database.url,
        AUTH_JWT_SECRET: 'x'.repeat(40),
        PORT: '0',
        NODE_ENV: 'test',
      },
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    await waitUntil(() => output.includes('CODITECT Billing is serving'), 'the service is serving', 20_000);
    const exited = new Promise<number | null>((done) => child.on('exit', done));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toMatch(/shutting down gracefully/);
  });

  it('finishes an in-flight request, closes WebSockets and stops listening on stop()', async () => {
    const running = await startTestService({ database });
    const client = connectSocket(running.url, `Bearer ${await running.token('acct_1')}`);
    let socketClosed = false;
    client.on('closed', () => {
      socketClosed = true;
    });
    client.on('connected', () => undefined);
    subscribe(client, 'subscription { accountUpdated { id } }');
    await waitUntil(() => running.app.http.app.server.listening, 'the server listens');
    await new Promise((done) => setTimeout(done, 200));

    // A request in flight: its body arrives in two parts, and stop() is called between them.
    const body = JSON.stringify({ query: '{ __typename }' });
    const { port } = new URL(running.url);
    const response = new Promise<{ status: number; body: string }>((done, fail) => {
      const request = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/graphql',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (incoming) => {
          let text = '';
          incoming.on('data', (chunk) => {
            text += chunk;
          });
          incoming.on('end', () => done({ status: incoming.statusCode ?? 0, body: text }));
        },
      );
      request.on('error', fail);
      request.write(body.slice(0, 5));
      setTimeout(() => request.end(body.slice(5)), 300);
    });
    await new Promise((done) => setTimeout(done, 50));
    const stopping = running.app.stop();
    expect(await response).toEqual({ status: 200, body: expect.stringContaining('"__typename":"Query"') });
    await stopping;
    await waitUntil(() => socketClosed, 'the WebSocket is closed');
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
    await client.dispose();
  });

  it('reports the database as down in /readyz when it cannot be reached', async () => {
    const running = await startTestService({ database });
    await running.app.orm.close(true);
    const ready = await fetch(`${running.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({
      status: 'unavailable',
      checks: { database: 'down' },
      failing: ['database'],
    });
    // stop() stops everything the service started (mail worker, reconciler, Redis), not only HTTP.
    await running.app.stop();
  });
});
