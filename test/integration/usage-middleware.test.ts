import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import {
  BillingClient,
  idempotencyKeyHeader,
  type UsageGate,
  usageGate,
  type UsageLogger,
} from '../../src/client';
import { UsageCounter } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { waitUntil } from '../support/wait';

/**
 * The usage middleware as the AI gateway mounts it (checklist 4.2): a real Express app on a random port in front
 * of the real billing service, real HTTP both ways. The gateway knows the account from its own authentication;
 * here a header stands in for it.
 */

class RecordingLogger implements UsageLogger {
  readonly lines: Array<{ level: string; details: Record<string, unknown>; message: string }> = [];
  warn(details: object, message: string) {
    this.lines.push({ level: 'warn', details: details as Record<string, unknown>, message });
  }
  error(details: object, message: string) {
    this.lines.push({ level: 'error', details: details as Record<string, unknown>, message });
  }
}

/**
 * Between the gateway and the billing service: forwards, or plays an outage (`down`: connections are cut), or
 * loses the answers of the next `loseRecordAnswers` commitUsage or recordUsage calls after the service has
 * handled them.
 */
class UnreliableNetwork {
  down = false;
  loseRecordAnswers = 0;
  private server!: Server;
  url = '';

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.forward(req).then(
        (answer) => {
          if (!answer) {
            req.socket.destroy();
            return;
          }
          res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.text);
        },
        () => req.socket.destroy(),
      );
    });
    await new Promise<void>((ready) => this.server.listen(0, '127.0.0.1', ready));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/graphql`;
  }

  private async forward(req: IncomingMessage): Promise<{ status: number; text: string } | null> {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (this.down) return null;
    // The path as asked: `/graphql`, or the usage routes the client posts records to (ADR 0030).
    const answer = await fetch(new URL(req.url ?? '/graphql', this.target), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' },
      body,
    });
    const text = await answer.text();
    const records =
      body.includes('commitUsage') || body.includes('recordUsage') || req.url === '/usage/record';
    if (records && this.loseRecordAnswers > 0) {
      this.loseRecordAnswers -= 1;
      return null;
    }
    return { status: answer.status, text };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((done) => this.server.close(done));
  }
}

/**
 * A billing service that is down: every connection is cut as it opens. The port stays held for the test file (a
 * port closed again could be taken by another test worker's server meanwhile, which would answer HTTP).
 */
const deadServers: Server[] = [];
async function deadUrl(): Promise<string> {
  const server = createServer();
  server.on('connection', (socket) => socket.destroy());
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  deadServers.push(server);
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}/graphql`;
}
afterAll(() => Promise.all(deadServers.map((server) => new Promise((done) => server.close(done)))));

const accountOf = (req: IncomingMessage) => req.headers['x-account-id'] as string | undefined;

/** What a test needs of a gate after mounting it. */
type GateControls = Pick<UsageGate<IncomingMessage, ServerResponse>, 'recorder' | 'flush' | 'close'>;

describe('usageGate in front of the billing service', () => {
  let stack: BillingStack;
  let client: BillingClient;
  let network: UnreliableNetwork;
  let gateway: Server;
  let gatewayUrl: string;
  const logger = new RecordingLogger();
  const handled: string[] = [];
  const gates: GateControls[] = [];
  let metered: GateControls;
  let unreliable: GateControls;
  let downAllow: GateControls;

  beforeAll(async () => {
    stack = await startBillingStack();
    client = new BillingClient({
      url: `${stack.url}/graphql`,
      token: () => stack.token('svc_ai_gateway', { roles: ['service'] }),
    });
    network = new UnreliableNetwork(`${stack.url}/graphql`);
    await network.start();
    const unreliableClient = new BillingClient({
      url: network.url,
      token: await stack.token('svc_ai_gateway', { roles: ['service'] }),
    });
    const deadClient = new BillingClient({ url: await deadUrl(), token: 'unused', timeoutMs: 1000 });
    const retry = { initialDelayMs: 20, maxDelayMs: 100 };

    // This gateway trusts its clients' Idempotency-Key (opt-in): a retried request is counted once.
    const meteredGate = usageGate<IncomingMessage, Response>({
      client,
      metric: 'ai_requests',
      accountId: accountOf,
      idempotencyKey: idempotencyKeyHeader,
      logger,
      retry,
    });
    metered = meteredGate;
    // The account read the way an Express app would, to show that the request type flows through.
    const featured = usageGate({
      client,
      feature: 'api_access',
      metric: 'ai_requests',
      accountId: (req: Request) => req.get('x-account-id'),
      logger,
    });
    const byTokens = usageGate({
      client,
      metric: 'ai_requests',
      accountId: accountOf,
      quantity: (_req, res) => Number(res.getHeader('x-tokens-used')),
      logger,
    });
    // Lets requests through when the check fails, so its records are what a flaky network tests.
    const unreliableGate = usageGate({
      client: unreliableClient,
      metric: 'ai_requests',
      accountId: accountOf,
      idempotencyKey: idempotencyKeyHeader,
      onUnavailable: 'allow',
      logger,
      retry,
    });
    unreliable = unreliableGate;
    const downDeny = usageGate({ client: deadClient, metric: 'ai_requests', accountId: accountOf, logger });
    const downAllowGate = usageGate({
      client: deadClient,
      metric: 'ai_requests',
      accountId: accountOf,
      onUnavailable: 'allow',
      logger,
      retry,
    });
    downAllow = downAllowGate;
    // The default key: a fresh one per request.
    const defaultKeyGate = usageGate({ client, metric: 'ai_requests', accountId: accountOf, logger, retry });
    gates.push(meteredGate, featured, byTokens, unreliableGate, downDeny, downAllowGate, defaultKeyGate);

    const app = express();
    const ok = (req: Request, res: Response) => {
      handled.push(`${req.path} ${req.get('x-account-id')}`);
      res.json({ answer: 42 });
    };
    app.post('/ai', meteredGate, ok);
    app.post('/ai-default-key', defaultKeyGate, ok);
    app.post('/api', featured, ok);
    app.post('/unreliable', unreliableGate, ok);
    app.post('/down-deny', downDeny, ok);
    app.post('/down-allow', downAllowGate, ok);
    app.post('/tokens', byTokens, (req, res) => {
      res.setHeader('x-tokens-used', '7');
      ok(req, res);
    });
    app.post('/stream', meteredGate, (req, res) => {
      handled.push(`${req.path} ${req.get('x-account-id')}`);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('the first tokens of a long answer');
    });
    app.post('/fails', meteredGate, (_req, res) => {
      res.status(500).json({ error: 'model unavailable' });
    });
    app.post('/throws', meteredGate, () => {
      throw new Error('handler bug');
    });
    app.post('/race', meteredGate, async (req, res) => {
      // Another gateway instance tries to use the last request of the allowance while this one is served: the
      // reservation holds it for this request.
      const other = await client
        .recordUsage({
          accountId: req.get('x-account-id'),
          metric: 'ai_requests',
          quantity: 1,
          idempotencyKey: 'other-instance-1',
        })
        .then(
          () => 'recorded',
          (error: unknown) => (error instanceof Error && 'code' in error ? String(error.code) : 'failed'),
        );
      handled.push(`other instance: ${other}`);
      ok(req, res);
    });
    gateway = app.listen(0, '127.0.0.1');
    await new Promise((ready) => gateway.once('listening', ready));
    gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const gate of gates) await gate.close({ timeoutMs: 1000 });
    gateway?.closeAllConnections();
    await new Promise((done) => gateway?.close(done));
    await network?.stop();
    await stack?.stop();
  });

  beforeEach(() => {
    handled.length = 0;
    logger.lines.length = 0;
  });

  async function call(path: string, accountId: string | null, headers: Record<string, string> = {}) {
    const response = await fetch(`${gatewayUrl}${path}`, {
      method: 'POST',
      headers: { ...(accountId ? { 'x-account-id': accountId } : {}), ...headers },
    });
    const json = response.headers.get('content-type')?.startsWith('application/json');
    const body = json ? await response.json() : await response.text();
    return { status: response.status, headers: response.headers, body };
  }

  async function used(accountId: string, metric = 'ai_requests'): Promise<number> {
    const gql = await stack.as(accountId);
    const response = await gql<{ viewer: { usage: Array<{ metric: string; used: number }> } }>(
      '{ viewer { usage { metric used } } }',
    );
    expect(response.errors).toBeUndefined();
    return response.data?.viewer.usage.find((usage) => usage.metric === metric)?.used ?? Number.NaN;
  }

  async function flushAll(): Promise<void> {
    for (const gate of gates) expect(await gate.flush({ timeoutMs: 10_000 })).toEqual({ pending: 0 });
  }

  async function seed(accountId: string, quantity: number): Promise<void> {
    await client.recordUsage({
      accountId,
      metric: 'ai_requests',
      quantity,
      idempotencyKey: `seed-${quantity}`,
    });
  }

  it('lets an allowed request through and records it exactly once', async () => {
    const before = metered.recorder.stats();
    const response = await call('/ai', 'acct_mw_allowed');
    expect(response).toMatchObject({ status: 200, body: { answer: 42 } });
    expect(handled).toEqual(['/ai acct_mw_allowed']);
    await flushAll();
    expect(await used('acct_mw_allowed')).toBe(1);
    expect(metered.recorder.stats().recorded).toBe(before.recorded + 1);
    expect(logger.lines).toEqual([]);
  });

  it('records the quantity the handler reports', async () => {
    expect((await call('/tokens', 'acct_mw_tokens')).status).toBe(200);
    await flushAll();
    expect(await used('acct_mw_tokens')).toBe(7);
  });

  it('counts a streamed answer the client abandoned after it started (the work was done)', async () => {
    const abort = new AbortController();
    const response = await fetch(`${gatewayUrl}/stream`, {
      method: 'POST',
      headers: { 'x-account-id': 'acct_mw_stream' },
      signal: abort.signal,
    });
    expect(response.status).toBe(200);
    await response.body?.getReader().read();
    abort.abort();
    await waitUntil(async () => (await used('acct_mw_stream')) === 1, 'the abandoned stream is recorded');
    await flushAll();
    expect(await used('acct_mw_stream')).toBe(1);
  });

  it('answers 401 without an account, before asking the billing service', async () => {
    const response = await call('/ai', null);
    expect(response).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
    expect(handled).toEqual([]);
  });

  it('refuses a free account past its 100 ai_requests with 402 and a JSON error naming the limit', async () => {
    await seed('acct_mw_spent', 100);
    const response = await call('/ai', 'acct_mw_spent');
    expect(response.status).toBe(402);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.body).toEqual({
      error: {
        code: 'USAGE_LIMIT_EXCEEDED',
        feature: 'ai_requests',
        reason: 'LIMIT_REACHED',
        limit: 100,
        used: 100,
        message: expect.stringContaining('100 of 100 ai_requests'),
      },
    });
    expect(handled).toEqual([]);
    await flushAll();
    expect(await used('acct_mw_spent')).toBe(100);
  });

  it('refuses a feature that is not in the plan with 402 FEATURE_NOT_IN_PLAN', async () => {
    const response = await call('/api', 'acct_mw_free');
    expect(response.status).toBe(402);
    expect(response.body).toEqual({
      error: {
        code: 'FEATURE_NOT_IN_PLAN',
        feature: 'api_access',
        reason: 'NOT_IN_PLAN',
        limit: null,
        used: null,
        message: "api_access is not included in the account's plan",
      },
    });
    expect(handled).toEqual([]);
    await flushAll();
    expect(await used('acct_mw_free')).toBe(0);
  });

  it('records nothing when the handler answers 500 or throws, and gives the holds back', async () => {
    const before = metered.recorder.stats();
    expect((await call('/fails', 'acct_mw_failing')).status).toBe(500);
    expect((await call('/throws', 'acct_mw_failing')).status).toBe(500);
    await flushAll();
    expect(await used('acct_mw_failing')).toBe(0);
    expect(metered.recorder.stats()).toEqual({ ...before, released: before.released + 2 });
    const counter = await stack.app.orm.em
      .fork()
      .findOneOrFail(UsageCounter, { accountId: 'acct_mw_failing', metric: 'ai_requests' });
    expect(counter.reserved).toBe(0);
  });

  it('counts a retried request with the same Idempotency-Key once', async () => {
    const before = metered.recorder.stats();
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const response = await call('/ai', 'acct_mw_retried', { 'idempotency-key': 'chat-7f3a-turn-1' });
      expect(response.status).toBe(200);
      await flushAll();
    }
    expect(handled).toHaveLength(2);
    expect(await used('acct_mw_retried')).toBe(1);
    expect(metered.recorder.stats()).toMatchObject({
      recorded: before.recorded + 1,
      duplicates: before.duplicates + 1,
    });
    // The gateway did the work twice and the account is billed once: visible in the logs.
    expect(logger.lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        details: expect.objectContaining({ accountId: 'acct_mw_retried' }),
      }),
    ]);
  });

  it('by default counts every request served, whatever Idempotency-Key the client repeats', async () => {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const response = await call('/ai-default-key', 'acct_mw_default_key', {
        'idempotency-key': 'same-key-every-time',
      });
      expect(response.status).toBe(200);
    }
    await flushAll();
    expect(await used('acct_mw_default_key')).toBe(3);
  });

  it('refuses an Idempotency-Key that is not printable ASCII with 400', async () => {
    const response = await call('/ai', 'acct_mw_badkey', { 'idempotency-key': 'two words' });
    expect(response).toMatchObject({ status: 400, body: { error: { code: 'BAD_IDEMPOTENCY_KEY' } } });
    expect(handled).toEqual([]);
  });

  it('retries a lost record answer with the same key: counted once', async () => {
    network.loseRecordAnswers = 1;
    expect((await call('/unreliable', 'acct_mw_lost_answer')).status).toBe(200);
    await flushAll();
    expect(await used('acct_mw_lost_answer')).toBe(1);
    expect(unreliable.recorder.stats()).toMatchObject({ recorded: 0, duplicates: 1, retries: 1, dropped: 0 });
    expect(logger.lines.map((line) => line.level)).toEqual(['warn']);
    expect(logger.lines[0].details).toMatchObject({ code: 'NETWORK_ERROR', attempts: 1 });
  });

  it('holds the last unit of the allowance for the request it lets through: no race past the limit', async () => {
    await seed('acct_mw_race', 99);
    const before = metered.recorder.stats();
    expect((await call('/race', 'acct_mw_race')).status).toBe(200);
    // The other instance's use came while this request held the last unit: refused, not served past the limit.
    expect(handled).toEqual(['other instance: USAGE_LIMIT_EXCEEDED', '/race acct_mw_race']);
    await flushAll();
    expect(await used('acct_mw_race')).toBe(100);
    expect(metered.recorder.stats()).toMatchObject({
      recorded: before.recorded + 1,
      overLimit: before.overLimit,
      dropped: before.dropped,
    });
    expect(logger.lines).toEqual([]);
  });

  it('serves exactly the allowance left when many requests arrive at once', async () => {
    await seed('acct_mw_burst', 90);
    const statuses = await Promise.all(
      Array.from({ length: 60 }, async () => (await call('/ai-default-key', 'acct_mw_burst')).status),
    );
    expect(statuses.filter((status) => status === 200)).toHaveLength(10);
    expect(statuses.filter((status) => status === 402)).toHaveLength(50);
    await flushAll();
    expect(await used('acct_mw_burst')).toBe(100);
  });

  describe('with the billing service down', () => {
    it('answers 503 with onUnavailable: deny (the default), and the handler does not run', async () => {
      const response = await call('/down-deny', 'acct_mw_down');
      expect(response).toMatchObject({ status: 503, body: { error: { code: 'BILLING_UNAVAILABLE' } } });
      expect(response.headers.get('retry-after')).toBe('5');
      expect(handled).toEqual([]);
      expect(logger.lines[0]).toMatchObject({ level: 'error', details: { code: 'NETWORK_ERROR' } });
    });

    it('lets the request through with onUnavailable: allow, and keeps its record to retry', async () => {
      const response = await call('/down-allow', 'acct_mw_down');
      expect(response).toMatchObject({ status: 200, body: { answer: 42 } });
      expect(handled).toEqual(['/down-allow acct_mw_down']);
      expect(await downAllow.flush({ timeoutMs: 200 })).toEqual({ pending: 1 });
      expect(downAllow.recorder.stats().retries).toBeGreaterThan(0);
    });

    it('records what it let through once the service is back', async () => {
      network.down = true;
      const response = await call('/unreliable', 'acct_mw_outage');
      expect(response.status).toBe(200);
      // The check failed (allow lets it through), and so does the record, for now.
      await new Promise((done) => setTimeout(done, 100));
      expect(unreliable.recorder.pending).toBe(1);
      network.down = false;
      expect(await unreliable.flush()).toEqual({ pending: 0 });
      expect(await used('acct_mw_outage')).toBe(1);
    });
  });
});
