import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerAccessLog } from '../../src/http/access-log';
import { bufferedStdout } from '../../src/logging/log-destination';
import { createAccessLogger } from '../../src/logging/pino-logger';

/** A Fastify app with the access log on a sink, and the lines it wrote. */
function appWithAccessLog(logLevel: 'info' | 'warn') {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const app: FastifyInstance = Fastify({ logger: false });
  registerAccessLog(app, createAccessLogger({ logLevel }, sink));
  app.get('/graphql', async (request) => {
    request.accountId = 'acct_access';
    return { ok: true };
  });
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));
  app.get('/anonymous', async () => ({ ok: true }));
  return { app, lines };
}

/** Waits until the access log has written `count` lines (it writes once the answer has gone). */
async function linesWritten(lines: unknown[], count: number): Promise<void> {
  for (let waited = 0; lines.length < count && waited < 5000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the access log', () => {
  let app: FastifyInstance;
  afterEach(() => app.close());

  async function serve(logLevel: 'info' | 'warn') {
    const made = appWithAccessLog(logLevel);
    app = made.app;
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return { url, lines: made.lines };
  }

  it('writes one line per request, without the query string, naming the account once known', async () => {
    const { url, lines } = await serve('info');
    const response = await fetch(`${url}/graphql?query=%7Bviewer%7D&variables=%7B%22secret%22%3A1%7D`, {
      headers: { authorization: 'Bearer should-never-appear' },
    });
    expect(response.status).toBe(200);
    await linesWritten(lines, 1);
    await fetch(`${url}/anonymous`);
    await linesWritten(lines, 2);
    expect(lines).toEqual([
      expect.objectContaining({
        msg: 'request',
        level: 30,
        method: 'GET',
        url: '/graphql',
        statusCode: 200,
        responseTime: expect.any(Number),
        accountId: 'acct_access',
        reqId: expect.any(String),
      }),
      expect.objectContaining({ url: '/anonymous' }),
    ]);
    expect(lines[1]).not.toHaveProperty('accountId');
    expect(JSON.stringify(lines)).not.toMatch(/should-never-appear|variables|secret/);
  });

  it('leaves out routes that ask for less than info (health checks, metrics scrapes)', async () => {
    const { url, lines } = await serve('info');
    await fetch(`${url}/healthz`);
    await fetch(`${url}/anonymous`);
    await linesWritten(lines, 1);
    expect(lines.map((line) => line.url)).toEqual(['/anonymous']);
  });

  it('writes nothing below info', async () => {
    const { url, lines } = await serve('warn');
    expect((await fetch(`${url}/graphql`)).status).toBe(200);
    await app.close(); // the answer's hooks have all run once the server has closed
    expect(lines).toEqual([]);
  });
});

describe('the buffered stdout destination', () => {
  it('holds a short line for its batch, and writes it when closed', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'access-log-')), 'out.log');
    const fileDescriptor = openSync(file, 'w');
    const destination = bufferedStdout(fileDescriptor);
    try {
      destination.stream.write('{"msg":"a short line"}\n');
      await new Promise((resolve) => setTimeout(resolve, 50));
      // Below the buffer size nothing has been written yet: the line waits for a batch.
      expect(readFileSync(file, 'utf8')).toBe('');
      destination.close();
      expect(readFileSync(file, 'utf8')).toBe('{"msg":"a short line"}\n');
    } finally {
      closeSync(fileDescriptor);
    }
  });
});
