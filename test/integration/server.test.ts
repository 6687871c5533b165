import { startTestService, type TestService } from '../support/service';

describe('the HTTP server', () => {
  let running: TestService;

  beforeAll(async () => {
    running = await startTestService();
  });
  afterAll(async () => {
    await running.stop();
  });

  it('answers { __typename } on POST /graphql', async () => {
    const response = await running.graphql<{ __typename: string }>('{ __typename }');
    expect(response.status).toBe(200);
    expect(response.data).toEqual({ __typename: 'Query' });
  });

  it('answers GraphQL with cache-control: no-store, over POST and GET, with errors too', async () => {
    const post = await fetch(`${running.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(post.status).toBe(200);
    expect(post.headers.get('cache-control')).toBe('no-store');
    const get = await fetch(`${running.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(await get.json()).toEqual({ data: { __typename: 'Query' } });
    expect(get.headers.get('cache-control')).toBe('no-store');
    const failed = await fetch(`${running.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ noSuchField }' }),
    });
    expect(failed.status).toBe(400);
    expect(failed.headers.get('cache-control')).toBe('no-store');
  });

  it('reports the pinned Stripe API version', async () => {
    const response = await running.graphql<{ serviceInfo: { stripeApiVersion: string } }>(
      '{ serviceInfo { name stripeApiVersion } }',
    );
    expect(response.data?.serviceInfo).toEqual({
      name: 'coditect-billing',
      stripeApiVersion: '2026-10-28.endive',
    });
  });

  it('is alive on /healthz and ready on /readyz', async () => {
    const health = await fetch(`${running.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${running.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'up' } });
  });

  it('echoes a caller-given request id and makes one otherwise', async () => {
    const given = await fetch(`${running.url}/healthz`, { headers: { 'x-request-id': 'trace-123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-123');
    const made = await fetch(`${running.url}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('returns the signed-in caller as viewer', async () => {
    const token = await running.token('acct_1');
    const response = await running.graphql<{ viewer: { id: string } }>('{ viewer { id } }', { token });
    expect(response.data?.viewer).toEqual({ id: 'acct_1' });
  });

  it('answers UNAUTHENTICATED for viewer without a token', async () => {
    const response = await running.graphql('{ viewer { id } }');
    expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(JSON.stringify(response)).not.toMatch(/stacktrace|at .*\.ts/);
  });

  it('refuses an invalid or expired token with UNAUTHENTICATED, even for a public field', async () => {
    const expired = await running.token('acct_1', { expiresInSeconds: -10 });
    for (const token of ['not-a-jwt', expired]) {
      const response = await running.graphql('{ __typename }', { token });
      expect(response.status).toBe(401);
      expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(response.data ?? null).toBeNull();
    }
  });

  it('blocks a GET query without a preflight header (CSRF prevention)', async () => {
    const response = await fetch(`${running.url}/graphql?query=${encodeURIComponent('{ __typename }')}`);
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/CSRF/i);
  });

  it('allows introspection outside production', async () => {
    const response = await running.graphql<{ __schema: { queryType: { name: string } } }>(
      '{ __schema { queryType { name } } }',
    );
    expect(response.data?.__schema.queryType.name).toBe('Query');
  });

  it('reports a parse error with its code and no stack trace', async () => {
    const response = await running.graphql('{ viewer { ');
    expect(response.status).toBe(400);
    expect(response.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(response.errors?.[0]?.extensions).not.toHaveProperty('stacktrace');
  });

  it('serves the Apollo Sandbox landing page to a browser in development', async () => {
    const response = await fetch(`${running.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/sandbox/i);
  });
});
