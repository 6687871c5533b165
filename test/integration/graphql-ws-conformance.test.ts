import { type Client, createClient } from 'graphql-ws';
import { decodeJwt } from 'jose';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { freePort } from '../support/free-port';
import { startTestService, type TestService } from '../support/service';
import { waitUntil } from '../support/wait';
import { subscribe } from '../support/ws-client';

/**
 * The graphql-ws protocol (graphql-transport-ws) as our `/graphql` speaks it, with the graphql-ws client over
 * real sockets: authentication at connection_init, ping/pong both ways, `complete` from either side, and a
 * client that reconnects and resubscribes after the service restarts on the same port.
 */
const ACCOUNT_UPDATED = 'subscription { accountUpdated { id } }';

/** `billing_graphql_subscriptions_active` of one service: how many subscriptions it is running now. */
async function activeSubscriptions(service: TestService): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  const line = text.split('\n').find((row) => row.startsWith('billing_graphql_subscriptions_active '));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

describe('graphql-ws conformance', () => {
  let database: TestDatabase;
  let service: TestService;
  let port: number;
  const clients: Client[] = [];
  const env = () => ({ PORT: String(port), HOST: '127.0.0.1' });

  /** A graphql-ws client as a frontend makes it; `authorization` goes in the connection parameters. */
  function client(options: { authorization?: string; keepAlive?: number; retryAttempts?: number } = {}) {
    const made = createClient({
      url: `ws://127.0.0.1:${port}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: options.authorization ? { authorization: options.authorization } : {},
      keepAlive: options.keepAlive ?? 0,
      retryAttempts: options.retryAttempts ?? 0,
      retryWait: () => new Promise((done) => setTimeout(done, 100)),
      // By default only close events are retried: a refused connection (the port closed for a moment during a
      // restart, or a proxy's 502 to the upgrade) would end the client for good.
      shouldRetry: () => true,
      lazy: true,
    });
    clients.push(made);
    return made;
  }

  async function bearer(accountId: string): Promise<string> {
    return `Bearer ${await service.token(accountId)}`;
  }

  /** A raw socket opened first, to see the server's own keep-alive pings (every 12 s) by the last test. */
  let rawSocket: WebSocket;
  let rawOpenedAt = 0;
  let serverPings = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    port = await freePort();
    service = await startTestService({ database, env: env() });
    rawSocket = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws');
    rawSocket.on('ping', () => serverPings++);
    await new Promise((done) => rawSocket.once('open', done));
    rawOpenedAt = Date.now();
    const acknowledged = new Promise((done) => rawSocket.once('message', done));
    rawSocket.send(
      JSON.stringify({ type: 'connection_init', payload: { authorization: await bearer('acct_raw') } }),
    );
    expect(JSON.parse(String(await acknowledged))).toEqual({ type: 'connection_ack' });
  });

  afterAll(async () => {
    rawSocket?.terminate();
    await Promise.all(clients.map((made) => made.dispose()));
    await service?.stop();
    await database?.drop();
  });

  it('acknowledges a connection whose token is in connectionParams, and serves its subscriptions', async () => {
    const made = client({ authorization: await bearer('acct_ws_ok') });
    const acknowledged = new Promise((done) => made.on('connected', done));
    const updates = subscribe<{ accountUpdated: { id: string } }>(made, ACCOUNT_UPDATED);
    await acknowledged;
    await waitUntil(async () => (await activeSubscriptions(service)) === 1, 'the subscription is running');
    await service.app.services.events.accountUpdated('acct_ws_ok', 'test');
    expect(await updates.next()).toEqual({ accountUpdated: { id: 'acct_ws_ok' } });
    updates.close();
    await waitUntil(async () => (await activeSubscriptions(service)) === 0, 'the subscription is stopped');
  });

  it('closes with 4403 Forbidden a connection whose token is invalid, at connection_init', async () => {
    const made = client({ authorization: 'Bearer forged.token.value' });
    const closed = new Promise<{ code: number; reason: string }>((done) =>
      made.on('closed', (event) => done(event as { code: number; reason: string })),
    );
    const refused = subscribe(made, ACCOUNT_UPDATED);
    expect(await closed).toMatchObject({ code: 4403, reason: 'Forbidden' });
    await waitUntil(() => refused.errors.length > 0, 'the subscription reports the closed connection');
  });

  it('accepts a connection without a token as anonymous, and refuses its subscriptions with UNAUTHENTICATED', async () => {
    const made = client();
    const refused = subscribe(made, ACCOUNT_UPDATED);
    await waitUntil(() => refused.errors.length > 0, 'the anonymous subscription is refused');
    expect(refused.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) }),
    ]);
    // Public data is still served over the same socket.
    const plans = await new Promise<unknown>((resolve, reject) =>
      made.subscribe(
        { query: '{ plans { key } }' },
        { next: resolve, error: reject, complete: () => undefined },
      ),
    );
    expect(plans).toMatchObject({ data: { plans: expect.arrayContaining([{ key: 'free' }]) } });
  });

  it('answers the client’s keep-alive pings with pongs', async () => {
    const made = client({ authorization: await bearer('acct_ws_ping'), keepAlive: 100 });
    let pongs = 0;
    made.on('pong', (received) => {
      if (received) pongs++;
    });
    const updates = subscribe(made, ACCOUNT_UPDATED);
    await waitUntil(() => pongs >= 2, 'two pongs from the server', 5000);
    updates.close();
    await waitUntil(async () => (await activeSubscriptions(service)) === 0, 'the subscription is stopped');
  });

  it('stops the events of a subscription the client completes', async () => {
    const made = client({ authorization: await bearer('acct_ws_complete') });
    const updates = subscribe<{ accountUpdated: { id: string } }>(made, ACCOUNT_UPDATED);
    await waitUntil(async () => (await activeSubscriptions(service)) === 1, 'the subscription is running');
    await service.app.services.events.accountUpdated('acct_ws_complete', 'first');
    expect(await updates.next()).toEqual({ accountUpdated: { id: 'acct_ws_complete' } });

    updates.close(); // sends `complete`
    await waitUntil(async () => (await activeSubscriptions(service)) === 0, 'the server stops it');
    await service.app.services.events.accountUpdated('acct_ws_complete', 'second');
    expect(await updates.staysQuiet(300)).toBe(true);
  });

  it('completes an operation that ends: next, then complete', async () => {
    const made = client({ authorization: await bearer('acct_ws_query') });
    const messages: string[] = [];
    await new Promise<void>((resolve, reject) =>
      made.subscribe(
        { query: '{ viewer { id } }' },
        {
          next: (message) => messages.push(`next ${JSON.stringify(message.data)}`),
          error: reject,
          complete: () => {
            messages.push('complete');
            resolve();
          },
        },
      ),
    );
    expect(messages).toEqual(['next {"viewer":{"id":"acct_ws_query"}}', 'complete']);
  });

  it('closes with 4403 Forbidden a connection when its token expires, and refuses its operations from then on', async () => {
    // A token that expires in about 2 s (`exp` is in whole seconds: 2 to 3 s from now).
    const token = await service.token('acct_ws_expiring', { expiresInSeconds: 3 });
    const expiresAt = (decodeJwt(token).exp as number) * 1000;
    const made = client({ authorization: `Bearer ${token}` });
    const closes: Array<{ code: number; reason: string; at: number }> = [];
    made.on('closed', (event) => {
      const { code, reason } = event as { code: number; reason: string };
      closes.push({ code, reason, at: Date.now() });
    });
    /** One operation's outcome: its data, or the errors it was refused with (or the close that ended it). */
    const run = (query: string) =>
      new Promise<unknown>((resolve) =>
        made.subscribe(
          { query },
          {
            next: (message) => resolve(message.errors ?? message.data),
            error: resolve,
            complete: () => undefined,
          },
        ),
      );

    // While the token is valid, its subscription is served.
    const updates = subscribe<{ accountUpdated: { id: string } }>(made, ACCOUNT_UPDATED);
    await waitUntil(async () => (await activeSubscriptions(service)) === 1, 'the subscription is running');
    await service.app.services.events.accountUpdated('acct_ws_expiring', 'test');
    expect(await updates.next()).toEqual({ accountUpdated: { id: 'acct_ws_expiring' } });
    expect(Date.now()).toBeLessThan(expiresAt);

    // An operation arriving once the token has expired, before the close takes effect (a late timer, a message
    // already on the wire): the service's clock is moved past `exp`, its close timer runs on the real clock.
    const clock = jest.spyOn(Date, 'now').mockReturnValue(expiresAt + 1);
    let refused: unknown;
    try {
      refused = await run('{ viewer { id } }');
    } finally {
      clock.mockRestore();
    }
    expect(refused).toEqual([
      expect.objectContaining({
        message: 'The token has expired',
        extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }),
      }),
    ]);

    // At the expiry the service closes the socket with 4403, which ends the subscription.
    await waitUntil(() => closes.length > 0, 'the socket is closed at the expiry', 5000);
    expect(closes[0]).toMatchObject({ code: 4403, reason: 'Forbidden' });
    expect(closes[0].at).toBeGreaterThanOrEqual(expiresAt);
    await waitUntil(async () => (await activeSubscriptions(service)) === 0, 'the subscription is stopped');

    // A new operation reconnects with the same, expired, token: refused at connection_init with 4403.
    const after = await run('{ viewer { id } }');
    expect(after).toMatchObject({ code: 4403 });
    expect(closes.map((close) => close.code)).toEqual([4403, 4403]);
  });

  it('pings every connection itself (WebSocket ping frames, every 12 s) and keeps it while it answers', async () => {
    // The raw socket was opened before the other tests, so this waits only for what is left of the 12 s.
    expect(rawOpenedAt).toBeGreaterThan(0);
    await waitUntil(() => serverPings > 0, 'a ping from the server', 15_000);
    expect(rawSocket.readyState).toBe(WebSocket.OPEN);
  }, 20_000);

  it('reconnects after the service restarts on the same port, and the subscription resumes', async () => {
    const made = client({ authorization: await bearer('acct_ws_restart'), retryAttempts: 100 });
    let connections = 0;
    made.on('connected', () => connections++);
    const updates = subscribe<{ accountUpdated: { id: string } }>(made, ACCOUNT_UPDATED);
    await waitUntil(async () => (await activeSubscriptions(service)) >= 1, 'the subscription is running');
    await service.app.services.events.accountUpdated('acct_ws_restart', 'before');
    expect(await updates.next()).toEqual({ accountUpdated: { id: 'acct_ws_restart' } });

    const closed = new Promise<number>((done) =>
      made.on('closed', (event) => done((event as { code: number }).code)),
    );
    await service.stop();
    expect(await closed).toBe(1001); // Going away: a code the client retries after
    // The port stays closed for a while, as in a restart: the client's attempts meanwhile are refused.
    await new Promise((done) => setTimeout(done, 500));
    service = await startTestService({ database, env: env() });

    await waitUntil(() => connections >= 2, 'the client reconnects', 10_000);
    await waitUntil(
      async () => (await activeSubscriptions(service)) === 1,
      'the client resubscribes',
      10_000,
    );
    await service.app.services.events.accountUpdated('acct_ws_restart', 'after');
    expect(await updates.next()).toEqual({ accountUpdated: { id: 'acct_ws_restart' } });
    expect(updates.errors).toEqual([]);
    updates.close();
  });
});
