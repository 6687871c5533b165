import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import ts from 'typescript';
import { BillingClient, BillingClientError } from '../../src/client';

/**
 * The client's wire format and failure codes, over real HTTP against a scripted in-process server. Its
 * behaviour against the real billing service is in test/integration/usage-middleware.test.ts.
 */

interface Seen {
  authorization: string | undefined;
  body: { query: string; variables: Record<string, unknown> };
}

describe('BillingClient', () => {
  let server: Server;
  let url: string;
  let answer: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;
  const seen: Seen[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk) => {
        text += chunk;
      });
      req.on('end', () => {
        const request = { authorization: req.headers.authorization, body: JSON.parse(text) };
        seen.push(request);
        answer(req, res, request);
      });
    });
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });
  beforeEach(() => {
    seen.length = 0;
  });

  function json(status: number, body: unknown) {
    return (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
  }

  async function failure(promise: Promise<unknown>): Promise<BillingClientError> {
    try {
      await promise;
    } catch (error) {
      if (error instanceof BillingClientError) return error;
      throw error;
    }
    throw new Error('expected a BillingClientError');
  }

  it('asks for several features of one account in one request, answered in the order asked', async () => {
    answer = json(200, {
      data: {
        account: {
          f0: {
            feature: 'api_access',
            allowed: false,
            reason: 'NOT_IN_PLAN',
            limit: null,
            used: null,
            remaining: null,
          },
          f1: { feature: 'ai_requests', allowed: true, reason: null, limit: 100, used: 3, remaining: 97 },
        },
      },
    });
    const client = new BillingClient({ url, token: 'svc-token' });
    const [feature, metric] = await client.featureAccesses('acct_a', ['api_access', 'ai_requests']);
    expect(feature).toMatchObject({ feature: 'api_access', allowed: false, reason: 'NOT_IN_PLAN' });
    expect(metric).toMatchObject({ allowed: true, remaining: 97 });
    expect(seen).toHaveLength(1);
    expect(seen[0].authorization).toBe('Bearer svc-token');
    expect(seen[0].body.variables).toEqual({ accountId: 'acct_a', key0: 'api_access', key1: 'ai_requests' });
  });

  it('sends dates as ISO strings, reads them back as Dates, and calls a token provider per request', async () => {
    answer = (_req, res, request) => {
      const input = request.body.variables.input as Record<string, unknown>;
      json(200, {
        data: {
          recordUsage: {
            duplicate: false,
            usage: {
              metric: input.metric,
              used: 5,
              included: 100,
              remaining: 95,
              overage: 0,
              periodStart: '2026-11-01T00:00:00.000Z',
              periodEnd: '2026-12-01T00:00:00.000Z',
            },
          },
        },
      })(_req, res);
    };
    let issued = 0;
    // The mutation's wire format (the JSON route's is in test/integration/usage-batch-route.test.ts).
    const client = new BillingClient({ url, token: async () => `token-${++issued}`, usageRoutes: false });
    const occurredAt = new Date('2026-11-27T08:00:00Z');
    const result = await client.recordUsage({
      metric: 'ai_requests',
      quantity: 5,
      idempotencyKey: 'req-1',
      accountId: 'acct_a',
      occurredAt,
    });
    await client.recordUsage({ metric: 'ai_requests', quantity: 1, idempotencyKey: 'req-2' });
    expect(result.usage.periodEnd).toEqual(new Date('2026-12-01T00:00:00.000Z'));
    expect(seen[0].body.variables.input).toEqual({
      metric: 'ai_requests',
      quantity: 5,
      idempotencyKey: 'req-1',
      accountId: 'acct_a',
      occurredAt: '2026-11-27T08:00:00.000Z',
    });
    expect(seen[1].body.variables.input).toEqual({
      metric: 'ai_requests',
      quantity: 1,
      idempotencyKey: 'req-2',
    });
    expect(seen.map((request) => request.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
  });

  it("turns a GraphQL error into a BillingClientError with the service's code and extensions", async () => {
    answer = json(200, {
      data: null,
      errors: [
        {
          message: 'Usage limit reached',
          extensions: { code: 'USAGE_LIMIT_EXCEEDED', limit: 100, used: 100 },
        },
      ],
    });
    const client = new BillingClient({ url, token: 't' });
    const error = await failure(
      client.recordUsage({ metric: 'ai_requests', quantity: 1, idempotencyKey: 'k' }),
    );
    expect(error.code).toBe('USAGE_LIMIT_EXCEEDED');
    expect(error.message).toBe('Usage limit reached');
    expect(error.details.extensions).toMatchObject({ limit: 100 });
    expect(error.retryable).toBe(false);
  });

  it('reads GraphQL errors from a non-2xx answer too (401 UNAUTHENTICATED), and may retry it', async () => {
    answer = json(401, { errors: [{ message: 'Sign in', extensions: { code: 'UNAUTHENTICATED' } }] });
    const error = await failure(new BillingClient({ url, token: 'expired' }).featureAccess('acct_a', 'sso'));
    expect(error).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, retryable: true });
  });

  it('answers HTTP_ERROR for a non-GraphQL error page, retryable only for 5xx, 408 and 429', async () => {
    const client = new BillingClient({ url, token: 't' });
    answer = (_req, res) => res.writeHead(502).end('<html>Bad gateway</html>');
    expect(await failure(client.featureAccess('acct_a', 'sso'))).toMatchObject({
      code: 'HTTP_ERROR',
      status: 502,
      retryable: true,
    });
    answer = (_req, res) => res.writeHead(404).end('not here');
    expect(await failure(client.featureAccess('acct_a', 'sso'))).toMatchObject({
      code: 'HTTP_ERROR',
      status: 404,
      retryable: false,
    });
  });

  it('answers INVALID_RESPONSE for a 2xx that is not a GraphQL result', async () => {
    answer = (_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>captive portal</html>');
    const error = await failure(new BillingClient({ url, token: 't' }).featureAccess('acct_a', 'sso'));
    expect(error).toMatchObject({ code: 'INVALID_RESPONSE', retryable: true });
  });

  it('answers TIMEOUT when no answer comes within timeoutMs, also for a body that stalls', async () => {
    const client = new BillingClient({ url, token: 't', timeoutMs: 200 });
    answer = () => undefined;
    const started = Date.now();
    expect(await failure(client.featureAccess('acct_a', 'sso'))).toMatchObject({
      code: 'TIMEOUT',
      retryable: true,
    });
    expect(Date.now() - started).toBeLessThan(2000);
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"data":');
    };
    expect((await failure(client.featureAccess('acct_a', 'sso'))).code).toBe('TIMEOUT');
  });

  it('answers NETWORK_ERROR, distinct from a timeout, when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((ready) => closed.listen(0, '127.0.0.1', ready));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const client = new BillingClient({
      url: `http://127.0.0.1:${port}/graphql`,
      token: 't',
      timeoutMs: 5000,
    });
    const error = await failure(client.featureAccess('acct_a', 'sso'));
    expect(error).toMatchObject({ code: 'NETWORK_ERROR', retryable: true });
    expect(error.message).toMatch(/ECONNREFUSED/);
  });
});

/**
 * Packages the client's declarations name and its JavaScript never loads: `import type` only, erased when it is
 * compiled. The generated typed documents declare their type with it.
 */
const TYPE_ONLY_PACKAGES = new Set(['@graphql-typed-document-node/core']);

describe('src/client', () => {
  const folder = join(__dirname, '../../src/client');
  const sources = readdirSync(folder).filter((name) => name.endsWith('.ts'));

  it('imports only Node built-ins and its own files, so other services do not load the server', () => {
    for (const file of sources) {
      const source = readFileSync(join(folder, file), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      const imports = [
        ...source.matchAll(/(import\s+type\s[^']*?from\s*|(?:from|import)\s*\(?\s*)'([^']+)'/g),
      ];
      for (const [, how, specifier] of imports) {
        const typeOnly = how.startsWith('import type') && TYPE_ONLY_PACKAGES.has(specifier);
        expect({
          file,
          specifier,
          ok: specifier.startsWith('node:') || /^\.\/[\w-]+$/.test(specifier) || typeOnly,
        }).toEqual({
          file,
          specifier,
          ok: true,
        });
      }
    }
  });

  it('loads only Node built-ins and its own files when it runs', () => {
    for (const file of sources) {
      const { outputText } = ts.transpileModule(readFileSync(join(folder, file), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
      });
      for (const [, specifier] of outputText.matchAll(/require\("([^"]+)"\)/g))
        expect({
          file,
          specifier,
          ok: specifier.startsWith('node:') || /^\.\/[\w-]+$/.test(specifier),
        }).toEqual({
          file,
          specifier,
          ok: true,
        });
    }
  });
});
