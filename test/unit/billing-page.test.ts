import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { TokenVerifier } from '../../src/auth/token-verifier';
import { loadConfig } from '../../src/config';
import { compileBillingPage, sourceVersion } from '../../src/http/billing-page-files';
import { registerBillingPageRoutes } from '../../src/http/billing-page.routes';

const SECRET = 'unit-test-secret-that-is-long-enough-0123456789';

/** Listens on a free port (light-my-request's inject cannot load under jest here); answers a fetch for it. */
async function serve(app: FastifyInstance) {
  const origin = await app.listen({ port: 0, host: '127.0.0.1' });
  return (path: string, init: RequestInit = {}) => fetch(`${origin}${path}`, { redirect: 'manual', ...init });
}

function post(payload: object): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) };
}
const BASE = {
  DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
  AUTH_JWT_SECRET: SECRET,
  STRIPE_SECRET_KEY: 'sk_test_123456789012',
  REDIS_URL: 'redis://127.0.0.1:6379',
};

describe('BILLING_PAGE configuration', () => {
  it('is on with the development sign-in outside production', () => {
    expect(loadConfig({ ...BASE, NODE_ENV: 'development' }).billingPage).toEqual({
      enabled: true,
      devSignIn: true,
    });
    expect(loadConfig({ ...BASE, NODE_ENV: 'test', BILLING_PAGE: 'off' }).billingPage).toEqual({
      enabled: false,
      devSignIn: false,
    });
  });

  it('is off in production unless asked for, and never has the development sign-in there', () => {
    expect(loadConfig({ ...BASE, NODE_ENV: 'production' }).billingPage).toEqual({
      enabled: false,
      devSignIn: false,
    });
    expect(loadConfig({ ...BASE, NODE_ENV: 'production', BILLING_PAGE: 'on' }).billingPage).toEqual({
      enabled: true,
      devSignIn: false,
    });
  });

  it('refuses anything but on or off', () => {
    expect(() => loadConfig({ ...BASE, BILLING_PAGE: 'yes' })).toThrow(/BILLING_PAGE must be on or off/);
  });
});

describe('the billing page routes in development', () => {
  const config = loadConfig({ ...BASE, NODE_ENV: 'development' });
  const app = Fastify();
  let get: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    registerBillingPageRoutes(app, config);
    get = await serve(app);
  });
  afterAll(() => app.close());

  it('serves the page at /billing/ and at the two addresses Checkout returns to', async () => {
    expect((await get('/billing')).headers.get('location')).toBe('/billing/');
    for (const path of ['/billing/', '/billing/success?session_id=cs_1', '/billing/cancel']) {
      const response = await get(path);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await response.text()).toContain('<script type="importmap">');
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('serves the compiled modules and graphql-ws, and nothing else', async () => {
    const main = await get('/billing/main.js');
    expect(main.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const code = await main.text();
    expect(code).toContain("from './api.js'");
    expect(code).not.toMatch(/:\s*HTMLElement\b/); // types are gone
    const client = await get('/billing/vendor/graphql-ws/client.js');
    expect(client.status).toBe(200);
    for (const [, chunk] of (await client.text()).matchAll(/from '\.\/([\w-]+\.js)'/g))
      expect((await get(`/billing/vendor/graphql-ws/${chunk}`)).status).toBe(200);
    expect((await get('/billing/billing.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await get('/billing/%2e%2e/package.json')).status).toBe(404);
    expect((await get('/billing/nothing.js')).status).toBe(404);
  });

  it('mints a working token for an account id, and refuses a malformed one', async () => {
    expect(await (await get('/billing/dev-sign-in')).json()).toEqual({ available: true });
    expect((await get('/billing/dev-sign-in', post({ accountId: 'not an id!' }))).status).toBe(400);
    const signedIn = await get(
      '/billing/dev-sign-in',
      post({ accountId: 'acct_dev', email: 'dev@example.com' }),
    );
    const { token } = (await signedIn.json()) as { token: string };
    const caller = await new TokenVerifier(config.auth).callerFrom(`Bearer ${token}`);
    expect(caller).toMatchObject({ kind: 'authenticated', accountId: 'acct_dev', email: 'dev@example.com' });
  });
});

describe('the billing page routes in production (BILLING_PAGE=on)', () => {
  const config = loadConfig({ ...BASE, NODE_ENV: 'production', BILLING_PAGE: 'on' });
  let folder: string;
  beforeAll(() => {
    // What `npm run web:build` writes.
    folder = mkdtempSync(join(tmpdir(), 'billing-page-'));
    for (const file of compileBillingPage()) {
      mkdirSync(dirname(join(folder, file.path)), { recursive: true });
      writeFileSync(join(folder, file.path), file.body);
    }
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('serves the built page, cacheable, without any development sign-in', async () => {
    const app = Fastify();
    registerBillingPageRoutes(app, config, folder);
    const get = await serve(app);
    const page = await get('/billing/');
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('public, max-age=300');
    expect((await get('/billing/vendor/graphql-ws/client.js')).status).toBe(200);
    expect((await get('/billing/dev-sign-in')).status).toBe(404);
    expect((await get('/billing/dev-sign-in', post({ accountId: 'acct_x' }))).status).toBe(404);
    await app.close();
  });

  it('refuses to start without the built page, saying how to build it', () => {
    expect(() => registerBillingPageRoutes(Fastify(), config, join(folder, 'absent'))).toThrow(
      /npm run web:build/,
    );
  });
});

it('gives the page sources a version that changes when a file does', () => {
  expect(sourceVersion()).toBe(sourceVersion());
  expect(sourceVersion()).toContain('web/src/main.ts:');
});
