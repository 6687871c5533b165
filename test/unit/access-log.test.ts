import fs, { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Config } from '../../src/config';
import { registerAccessLog } from '../../src/http/access-log';
import { bufferedStdout, LOG_FLUSH_INTERVAL_MS } from '../../src/logging/log-destination';
import { AccessLogger } from '../../src/logging/access-logger';

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
  registerAccessLog(app, new AccessLogger(logLevel, sink));
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

describe('the access line', () => {
  /** A destination that keeps what is written. */
  function kept() {
    const lines: string[] = [];
    return { lines, stream: { write: (line: string) => void lines.push(line) } };
  }
  const timeless = (line: string | undefined) => line?.replace(/"time":\d+/, '"time":0');

  it('is the line pino wrote before, field for field and in the same order', () => {
    const ours = kept();
    const theirs = kept();
    const access = new AccessLogger('info', ours.stream);
    const reference = pino({ level: 'info' }, theirs.stream);
    // An account id a token may carry: quotes, a backslash, a control character and non-ASCII text.
    const accountId = 'acct_"odd"\\ \u0001 é';
    access.write('req-1', 'POST', '/graphql', 200, 1.25, accountId);
    reference.info(
      { reqId: 'req-1', method: 'POST', url: '/graphql', statusCode: 200, responseTime: 1.25, accountId },
      'request',
    );
    access.write('0a1b', 'GET', '/healthz/ready', 503, 0, null);
    reference.info(
      {
        reqId: '0a1b',
        method: 'GET',
        url: '/healthz/ready',
        statusCode: 503,
        responseTime: 0,
        accountId: undefined,
      },
      'request',
    );
    expect(ours.lines).toHaveLength(2);
    expect(ours.lines.map(timeless)).toEqual(theirs.lines.map(timeless));
    expect(JSON.parse(ours.lines[0] as string)).toMatchObject({ accountId, time: expect.any(Number) });
    expect(JSON.parse(ours.lines[1] as string)).not.toHaveProperty('accountId');
  });

  it('is on at info and below, off above', () => {
    const { stream } = kept();
    const enabledAt = (levels: Array<Config['logLevel']>) =>
      levels.map((level) => new AccessLogger(level, stream).enabled);
    expect(enabledAt(['trace', 'debug', 'info'])).toEqual([true, true, true]);
    expect(enabledAt(['warn', 'error', 'fatal', 'silent'])).toEqual([false, false, false, false]);
  });
});

describe('the buffered stdout destination', () => {
  it('writes a batch once about 4 KiB wait, lines whole and in order', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'access-log-')), 'out.log');
    const fileDescriptor = openSync(file, 'w');
    const destination = bufferedStdout(fileDescriptor);
    const lines = Array.from(
      { length: 20 },
      (_, n) => `{"n":${String(n).padStart(2, '0')},"pad":"${'x'.repeat(238)}"}\n`,
    );
    try {
      for (const line of lines) destination.stream.write(line);
      // Lines of 256 characters: the 16th makes 4096, and the 16 leave in one write; the last 4 wait.
      expect(readFileSync(file, 'utf8')).toBe(lines.slice(0, 16).join(''));
      destination.close();
      expect(readFileSync(file, 'utf8')).toBe(lines.join(''));
    } finally {
      closeSync(fileDescriptor);
    }
  });

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

  it('writes a waiting line within the flush interval, without fsync on the event loop', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'access-log-')), 'out.log');
    const fileDescriptor = openSync(file, 'w');
    const destination = bufferedStdout(fileDescriptor);
    const fsync = jest.spyOn(fs, 'fsyncSync');
    try {
      destination.stream.write('{"msg":"a short line"}\n');
      await new Promise((resolve) => setTimeout(resolve, LOG_FLUSH_INTERVAL_MS + 200));
      expect(readFileSync(file, 'utf8')).toBe('{"msg":"a short line"}\n');
      expect(fsync).not.toHaveBeenCalled();
      destination.close();
      // Shutdown still syncs what was written.
      expect(fsync).toHaveBeenCalledWith(fileDescriptor);
    } finally {
      fsync.mockRestore();
      destination.close();
      closeSync(fileDescriptor);
    }
  });
});
