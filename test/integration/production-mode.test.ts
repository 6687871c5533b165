import { describeWithRedis, testRedisUrl } from '../support/redis';
import { startTestService, type TestService } from '../support/service';
import { connectSocket } from '../support/ws-client';

describeWithRedis('the server in production mode', () => {
  let running: TestService;
  beforeAll(async () => {
    running = await startTestService({
      env: {
        NODE_ENV: 'production',
        REDIS_URL: testRedisUrl,
        HOST: '127.0.0.1',
        STRIPE_SECRET_KEY: 'sk_test_unused',
      },
    });
  });
  afterAll(() => running.stop());

  it('refuses introspection', async () => {
    const response = await running.graphql('{ __schema { queryType { name } } }');
    expect(response.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(response.data).toBeUndefined();
  });

  it('refuses introspection over the WebSocket too, and __type as well as __schema', async () => {
    expect(
      (await running.graphql('{ __type(name: "Account") { fields { name } } }')).errors?.[0]?.extensions
        ?.code,
    ).toBe('GRAPHQL_VALIDATION_FAILED');
    const client = connectSocket(running.url);
    try {
      for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "Account") { name } }']) {
        const errors = await new Promise<unknown>((done) => {
          client.subscribe(
            { query },
            { next: (result) => done(result.errors), error: done, complete: () => undefined },
          );
        });
        const codes = (errors as Array<{ extensions?: { code?: string } }>).map(
          (error) => error.extensions?.code,
        );
        expect(codes.length).toBeGreaterThan(0);
        expect(new Set(codes)).toEqual(new Set(['GRAPHQL_VALIDATION_FAILED']));
      }
    } finally {
      await client.dispose();
    }
  });

  it('serves no Sandbox landing page', async () => {
    const response = await fetch(`${running.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await response.text()).not.toMatch(/sandbox/i);
  });

  it('still answers ordinary queries', async () => {
    expect((await running.graphql('{ __typename }')).data).toEqual({ __typename: 'Query' });
  });
});
