import { createClient } from 'graphql-ws';
import { SignJWT } from 'jose';
import Stripe from 'stripe';
import WebSocket from 'ws';
import { signToken } from '../../src/auth/token-signer';
import { BillingCustomer, EntitlementOverride, UsageRecord, WebhookEvent } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { expectCleanError, INTERNALS } from '../support/hostile';
import { TEST_JWT_SECRET } from '../support/service';
import { connectSocket } from '../support/ws-client';

/**
 * Hostile input (issue 8): bad tokens, forged webhooks, oversized and abusive documents, cross-site requests and
 * strange text. Each gets a clear error with a stable `extensions.code`, no stack trace or internal message,
 * and no half-done write. Who may call what is test/integration/authorization-matrix.test.ts; usage quantities
 * (negative, fractional, too large, NaN) are test/integration/usage-metering.test.ts ("refuses …").
 */

const ALLOWED = 'http://localhost:3000';
const ISSUER = 'https://auth.coditect.ai';
const AUDIENCE = 'coditect-billing';

interface Answer {
  status: number;
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

describe('hostile input', () => {
  let stack: BillingStack;
  let url: string;

  beforeAll(async () => {
    stack = await startBillingStack(
      {
        BILLING_ALLOWED_REDIRECT_ORIGINS: ALLOWED,
        AUTH_JWT_ISSUER: ISSUER,
        AUTH_JWT_AUDIENCE: AUDIENCE,
        // Dozens of refused mutations from one account here; the rate limits have tests of their own.
        RATE_LIMIT_ENABLED: 'false',
      },
      { webhooks: true },
    );
    url = stack.url;
  });
  afterAll(() => stack.stop());

  function token(accountId: string, roles: Array<'admin' | 'service'> = []): Promise<string> {
    return signToken(TEST_JWT_SECRET, { accountId, roles, issuer: ISSUER, audience: AUDIENCE });
  }

  async function post(
    body: unknown,
    headers: Record<string, string> = {},
    raw = false,
  ): Promise<Answer & { text: string }> {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: raw ? (body as string) : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: object = {};
    try {
      parsed = JSON.parse(text) as object;
    } catch {
      // not JSON: the assertions on `text` say what it was
    }
    return { status: response.status, text, ...parsed };
  }

  async function gql(accountId: string | null, query: string, variables?: Record<string, unknown>) {
    const headers: Record<string, string> = accountId
      ? { authorization: `Bearer ${await token(accountId, accountId.startsWith('admin') ? ['admin'] : [])}` }
      : {};
    return post({ query, variables }, headers);
  }

  describe('tokens', () => {
    const secret = new TextEncoder().encode(TEST_JWT_SECRET);
    const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const future = () => Math.floor(Date.now() / 1000) + 3600;

    async function badTokens(): Promise<Array<[string, string]>> {
      const claims = { sub: 'acct_victim', roles: ['admin'], iss: ISSUER, aud: AUDIENCE, exp: future() };
      const signed = (alg: string, key: Uint8Array, payload: object = claims) =>
        new SignJWT({ ...payload }).setProtectedHeader({ alg }).sign(key);
      const hs256 = await signed('HS256', secret);
      return [
        ['a forged signature', await signed('HS256', new TextEncoder().encode('x'.repeat(48)))],
        [
          'an expired token',
          await signToken(TEST_JWT_SECRET, {
            accountId: 'acct_victim',
            issuer: ISSUER,
            audience: AUDIENCE,
            expiresInSeconds: -60,
          }),
        ],
        ['alg none', `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claims)}.`],
        [
          'alg none with the signature kept',
          `${base64url({ alg: 'none' })}.${hs256.split('.')[1]}.${hs256.split('.')[2]}`,
        ],
        ['HS512 with the right secret', await signed('HS512', secret)],
        [
          'an RS256 header over an HMAC signature',
          `${base64url({ alg: 'RS256' })}.${hs256.split('.').slice(1).join('.')}`,
        ],
        ['the wrong audience', await signed('HS256', secret, { ...claims, aud: 'someone-else' })],
        ['the wrong issuer', await signed('HS256', secret, { ...claims, iss: 'https://evil.example' })],
        ['no audience or issuer', await signed('HS256', secret, { sub: 'acct_victim', exp: future() })],
        ['no expiry', await signed('HS256', secret, { ...claims, exp: undefined })],
        ['no subject', await signed('HS256', secret, { ...claims, sub: undefined })],
        [
          'a payload changed after signing',
          `${hs256.split('.')[0]}.${base64url({ ...claims, sub: 'acct_other' })}.${hs256.split('.')[2]}`,
        ],
        ['garbage', 'not-a-jwt'],
        ['three garbage parts', 'a.b.c'],
        ['a header that is not JSON', `${Buffer.from('{{{').toString('base64url')}.e30.x`],
      ];
    }

    it('refuses every bad token over HTTP with 401 UNAUTHENTICATED, even for a public field', async () => {
      for (const [what, bad] of await badTokens()) {
        const response = await post(
          { query: '{ serviceInfo { name } }' },
          { authorization: `Bearer ${bad}` },
        );
        expect({ what, status: response.status, code: response.errors?.[0]?.extensions?.code }).toEqual({
          what,
          status: 401,
          code: 'UNAUTHENTICATED',
        });
        expect(response.data ?? null).toBeNull();
        expectCleanError(response);
      }
      for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', 'token-without-scheme']) {
        const response = await post({ query: '{ __typename }' }, { authorization: header });
        expect({ header, status: response.status }).toEqual({ header, status: 401 });
        expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      }
      // The control: the right issuer and audience get in.
      const good = await gql('acct_good', '{ viewer { id } }');
      expect(good.data).toEqual({ viewer: { id: 'acct_good' } });
    });

    /** How graphql-ws ends a connection: the close code, or `accepted` when an operation ran. */
    async function socketOutcome(connectionParams: Record<string, unknown>): Promise<number | 'accepted'> {
      const custom = createClient({
        url: `${url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams,
        retryAttempts: 0,
        lazy: true,
      });
      try {
        return await new Promise<number | 'accepted'>((done) => {
          custom.subscribe(
            { query: '{ __typename }' },
            {
              next: () => done('accepted'),
              error: (error) => done((error as { code?: number }).code ?? -1),
              complete: () => undefined,
            },
          );
        });
      } finally {
        await custom.dispose();
      }
    }

    it('closes a WebSocket whose connection_init carries a bad token with 4403, before any operation', async () => {
      for (const [what, bad] of await badTokens()) {
        expect({ what, outcome: await socketOutcome({ authorization: `Bearer ${bad}` }) }).toEqual({
          what,
          outcome: 4403,
        });
      }
      // Present but not a string is a bad credential too, not an anonymous caller.
      for (const authorization of [42, { token: 'x' }, ['Bearer x']])
        expect(await socketOutcome({ authorization })).toBe(4403);
      expect(await socketOutcome({ authorization: `Bearer ${await token('acct_ws')}` })).toBe('accepted');
      expect(await socketOutcome({})).toBe('accepted');
    });
  });

  describe('webhooks', () => {
    // Missing, forged and stale (300 s + 100) signatures: webhooks.test.ts › signature verification.
    function deliver(body: string, signature?: string) {
      return fetch(`${url}/webhooks/stripe`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(signature ? { 'stripe-signature': signature } : {}),
        },
        body,
      });
    }

    it('answers 400 with a plain JSON reason and stores nothing for every malformed or replayed signature', async () => {
      const secret = stack.webhookSecret as string;
      const event = {
        id: 'evt_hostile_1',
        object: 'event',
        // A type the service stores and ignores, so the control delivery below needs nothing from Stripe.
        type: 'radar.early_fraud_warning.created',
        created: Math.floor(Date.now() / 1000),
        data: { object: { id: 'issfr_hostile' } },
      };
      const body = JSON.stringify(event);
      const sign = (timestamp: number, key = secret) =>
        Stripe.webhooks.generateTestHeaderString({ payload: body, secret: key, timestamp });
      const now = Math.floor(Date.now() / 1000);
      const valid = sign(now);
      const v1 = valid.split(',').find((part) => part.startsWith('v1=')) as string;
      const signatures: Array<[string, string | undefined]> = [
        ['missing', undefined],
        ['empty', ' '],
        ['garbage', 'garbage'],
        ['a non-numeric timestamp', `t=abc,${v1}`],
        ['no timestamp', v1],
        ['no v1 signature', `t=${now}`],
        ['a v0 (test scheme) signature only', `t=${now},v0=${v1.slice(3)}`],
        ['a replay 301 s later', sign(now - 301)],
        ['a replay a day later', sign(now - 86_400)],
        ['the timestamp changed after signing', `t=${now - 1},${v1}`],
        ['a signature with another secret', sign(now, 'whsec_attacker')],
      ];
      const before = await stack.app.orm.em.fork().count(WebhookEvent, {});
      for (const [what, signature] of signatures) {
        const response = await deliver(body, signature);
        const text = await response.text();
        expect({ what, status: response.status }).toEqual({ what, status: 400 });
        expect(JSON.parse(text)).toEqual({ error: expect.any(String) });
        expect(text).not.toMatch(INTERNALS);
      }
      expect(await stack.app.orm.em.fork().count(WebhookEvent, {})).toBe(before);
      // The control: the same body, signed now, is taken.
      expect((await deliver(body, valid)).status).toBe(200);
    });
  });

  describe('oversized and abusive documents', () => {
    async function expectTooComplex(answer: Answer, limit: string) {
      expect(answer.status).toBe(400);
      expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit });
      expect(answer.data ?? null).toBeNull();
      expectCleanError(answer);
    }

    it('answers a body over GRAPHQL_MAX_BODY_BYTES with 413 and a JSON error', async () => {
      const response = await post({ query: `{ __typename } # ${'x'.repeat(1_100_000)}` });
      expect(response.status).toBe(413);
      expect(response.errors?.[0]?.extensions).toEqual({ code: 'PAYLOAD_TOO_LARGE' });
      expect(response.errors?.[0]?.message).toMatch(/larger than 1048576 bytes/);
    });

    it('answers a body that is not JSON with 400 BAD_REQUEST', async () => {
      const response = await post('{"query": "{ __typename }"', {}, true);
      expect(response.status).toBe(400);
      expect(response.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
      expectCleanError(response);
    });

    it('refuses deep nesting before parsing or running it', async () => {
      // Introspection types refer to each other, so this is valid GraphQL, 25 fields deep.
      let selection = 'name';
      for (let level = 0; level < 12; level++) selection = `fields { type { ${selection} } }`;
      await expectTooComplex(await post({ query: `{ __type(name: "Account") { ${selection} } }` }), 'depth');
      // Deeper than graphql's parser can recurse: refused by counting brackets, never a stack overflow.
      await expectTooComplex(await post({ query: `${'{ a '.repeat(2400)}${'}'.repeat(2400)}` }), 'nesting');
    });

    it('refuses very wide documents: many aliases, many fields, fragment bombs, too many tokens', async () => {
      const viewers = (count: number, body: string) =>
        `{ ${Array.from({ length: count }, (_, index) => `v${index}: viewer { ${body} }`).join(' ')} }`;
      await expectTooComplex(await gql('acct_wide', viewers(60, 'id')), 'aliases');
      await expectTooComplex(await gql('acct_wide', viewers(500, 'invoices { nodes { id } }')), 'tokens');
      const fragments = ['fragment P0 on Plan { key name description }'];
      for (let level = 1; level <= 30; level++)
        fragments.push(`fragment P${level} on Plan { ...P${level - 1} ...P${level - 1} }`);
      await expectTooComplex(await post({ query: `{ plans { ...P30 } } ${fragments.join(' ')}` }), 'fields');
    });

    it('refuses an over-wide mutation before any of it runs', async () => {
      const records = Array.from(
        { length: 60 },
        (_, index) =>
          `r${index}: recordUsage(input: { metric: "ai_requests", quantity: 1, idempotencyKey: "wide-${index}" }) { duplicate }`,
      );
      await expectTooComplex(await gql('acct_wide_mutation', `mutation { ${records.join(' ')} }`), 'aliases');
      expect(await stack.app.orm.em.fork().count(UsageRecord, { accountId: 'acct_wide_mutation' })).toBe(0);
    });

    it('applies the same limits over graphql-ws, and answers a syntax error without closing the socket', async () => {
      const client = connectSocket(url, `Bearer ${await token('acct_ws_limits')}`);
      const run = (query: string) =>
        new Promise<Answer>((done) => {
          client.subscribe(
            { query },
            {
              next: (result) => done({ status: 200, ...(result as object) }),
              error: (errors) => done({ status: 400, errors: errors as Answer['errors'] }),
              complete: () => undefined,
            },
          );
        });
      try {
        const wide = await run(
          `{ ${Array.from({ length: 60 }, (_, index) => `a${index}: __typename`).join(' ')} }`,
        );
        expect(wide.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'aliases' });
        const deep = await run(`${'{ a '.repeat(2400)}${'}'.repeat(2400)}`);
        expect(deep.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'nesting' });
        const broken = await run('subscription { usageUpdated { ');
        expect(broken.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
        const unknown = await run('subscription { noSuchField }');
        expect(unknown.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
        for (const answer of [wide, deep, broken, unknown]) expectCleanError(answer);
        // The same socket still serves.
        expect((await run('{ viewer { id } }')).data).toEqual({ viewer: { id: 'acct_ws_limits' } });
      } finally {
        await client.dispose();
      }
    });

    it('closes a WebSocket that sends a message over the body limit (1009), running nothing', async () => {
      const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
      const closed = new Promise<number>((done) => socket.on('close', (code) => done(code)));
      await new Promise((done) => socket.on('open', done));
      socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
      socket.send(
        JSON.stringify({
          id: '1',
          type: 'subscribe',
          payload: { query: `{ __typename } # ${'x'.repeat(1_100_000)}` },
        }),
      );
      expect(await closed).toBe(1009);
    });

    it('refuses HTTP batching (an array body), so nothing in a batch runs', async () => {
      const response = await post(
        [
          { query: '{ __typename }' },
          { query: 'mutation { updateCustomer(input: { name: "batched" }) { name } }' },
        ],
        { authorization: `Bearer ${await token('acct_batch')}` },
      );
      expect(response.status).toBe(400);
      expect(response.errors?.[0]).toMatchObject({
        message: 'Operation batching disabled.',
        extensions: { code: 'BAD_REQUEST' },
      });
      expect(await stack.app.orm.em.fork().count(BillingCustomer, { accountId: 'acct_batch' })).toBe(0);
    });
  });

  describe('cross-site requests (CSRF prevention)', () => {
    const mutation = 'mutation { updateCustomer(input: { name: "csrf" }) { name } }';

    it('refuses simple requests a browser would send from another site, and runs nothing', async () => {
      const authorization = `Bearer ${await token('acct_csrf')}`;
      const simplePost = (contentType: string, body: string) =>
        fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': contentType, authorization },
          body,
        });
      const refused = [
        await fetch(`${url}/graphql?query=${encodeURIComponent(mutation)}`, { headers: { authorization } }),
        await simplePost('text/plain', JSON.stringify({ query: mutation })),
        await simplePost('application/x-www-form-urlencoded', `query=${encodeURIComponent(mutation)}`),
        await simplePost(
          'multipart/form-data; boundary=x',
          `--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n${mutation}\r\n--x--`,
        ),
      ];
      for (const response of refused) {
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        expect(await response.text()).not.toMatch(INTERNALS);
      }
      // A GET never runs a mutation, even with the preflight header.
      const preflighted = await fetch(`${url}/graphql?query=${encodeURIComponent(mutation)}`, {
        headers: { authorization, 'apollo-require-preflight': 'true' },
      });
      expect(preflighted.status).toBe(405);
      expect(await stack.app.orm.em.fork().count(BillingCustomer, { accountId: 'acct_csrf' })).toBe(0);
      // The control: a GET query with the preflight header is served.
      const query = await fetch(`${url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
        headers: { 'apollo-require-preflight': 'true' },
      });
      expect(await query.json()).toEqual({ data: { __typename: 'Query' } });
    });
  });

  describe('inputs', () => {
    const SQLISH = [
      "'; drop table billing_customer; --",
      "' OR 1=1 --",
      "Robert'); DROP TABLE subscription;--",
    ];
    const UNICODE = [
      '😀 Zoë Ünïcødé GmbH',
      'شركة المثال\u202e gnp.exe',
      'חברה בע"מ',
      'Z̷̢a̶l̴g̸o̵ combining',
      '株式会社 例',
      '👩‍👩‍👧‍👦 family',
      'tab\tand\u0007bell',
    ];

    async function tables(): Promise<string[]> {
      const rows = await stack.app.orm.em
        .fork()
        .getConnection()
        .execute<Array<{ tablename: string }>>(
          "select tablename from pg_tables where schemaname = 'public' order by tablename",
        );
      return rows.map((row) => row.tablename);
    }

    let tablesBefore: string[];
    beforeAll(async () => {
      tablesBefore = await tables();
      expect(tablesBefore).toContain('billing_customer');
    });

    it('refuses redirect URLs off the allow-list with BAD_USER_INPUT naming the field, creating nothing', async () => {
      const before = (await stack.stripe.checkout.sessions.list({ limit: 100 })).data.length;
      const hostile = [
        'https://evil.example/',
        'javascript:alert(document.cookie)',
        'data:text/html,<script>alert(1)</script>',
        'http://localhost:3000.evil.example/',
        'http://localhost:3000@evil.example/',
        'http://evil.example/?next=http://localhost:3000/',
        '//evil.example/',
        'http://localhost:3001/',
        'https://localhost:3000/',
        'file:///etc/passwd',
        '/relative/path',
        "http://localhost:3000/'; drop table x; --\u0000",
        `http://localhost:3000/${'a'.repeat(3000)}`,
      ];
      for (const bad of hostile) {
        const checkout = await gql(
          'acct_redirects',
          'mutation($url: String!) { createCheckoutSession(input: { planKey: "starter", successUrl: $url, cancelUrl: "http://localhost:3000/no" }) { id } }',
          { url: bad },
        );
        expect({ bad, code: checkout.errors?.[0]?.extensions?.code }).toEqual({
          bad,
          code: 'BAD_USER_INPUT',
        });
        expectCleanError(checkout);
        const portal = await gql(
          'acct_redirects',
          'mutation($url: String) { createPortalSession(input: { returnUrl: $url }) { url } }',
          { url: bad },
        );
        expect({ bad, code: portal.errors?.[0]?.extensions?.code }).toEqual({ bad, code: 'BAD_USER_INPUT' });
        // The payment pages of issue 15 too: a credit pack's Checkout and the card's setup page, either URL.
        for (const [success, cancel] of [
          [bad, 'http://localhost:3000/no'],
          ['http://localhost:3000/ok', bad],
        ]) {
          const pack = await gql(
            'acct_redirects',
            'mutation($success: String!, $cancel: String!) { createCreditCheckoutSession(input: { packKey: "credits_10k", successUrl: $success, cancelUrl: $cancel }) { sessionId } }',
            { success, cancel },
          );
          expect({ bad, code: pack.errors?.[0]?.extensions?.code }).toEqual({ bad, code: 'BAD_USER_INPUT' });
          expectCleanError(pack);
          const card = await gql(
            'acct_redirects',
            'mutation($success: String!, $cancel: String!) { createPaymentMethodSetupSession(input: { successUrl: $success, cancelUrl: $cancel }) { id } }',
            { success, cancel },
          );
          expect({ bad, code: card.errors?.[0]?.extensions?.code }).toEqual({ bad, code: 'BAD_USER_INPUT' });
          expectCleanError(card);
        }
      }
      expect((await stack.stripe.checkout.sessions.list({ limit: 100 })).data.length).toBe(before);
      // The same calls on allowed URLs pass: the refusals above are the URLs'.
      const allowed = { success: 'http://localhost:3000/ok', cancel: 'http://localhost:3000/no' };
      const pack = await gql(
        'acct_redirects',
        'mutation($success: String!, $cancel: String!) { createCreditCheckoutSession(input: { packKey: "credits_10k", successUrl: $success, cancelUrl: $cancel }) { sessionId } }',
        allowed,
      );
      const card = await gql(
        'acct_redirects',
        'mutation($success: String!, $cancel: String!) { createPaymentMethodSetupSession(input: { successUrl: $success, cancelUrl: $cancel }) { id } }',
        allowed,
      );
      expect([pack.errors, card.errors]).toEqual([undefined, undefined]);
    });

    it('refuses unknown plan keys with BAD_USER_INPUT on planKey, everywhere a plan is named', async () => {
      const account = 'acct_plan_keys';
      const trial = await gql(
        account,
        'mutation { createSubscription(input: { planKey: "starter", withTrial: true }) { id } }',
      );
      expect(trial.errors).toBeUndefined();
      for (const planKey of ['platinum', 'STARTER', 'starter ', ...SQLISH, '😀', 'x'.repeat(65)]) {
        const operations = [
          'mutation($k: String!) { createCheckoutSession(input: { planKey: $k, successUrl: "http://localhost:3000/ok", cancelUrl: "http://localhost:3000/no" }) { id } }',
          'mutation($k: String!) { createSubscription(input: { planKey: $k, withTrial: true, accountId: "acct_plan_keys_2" }) { id } }',
          'mutation($k: String!) { changeSubscription(input: { planKey: $k }) { id } }',
          'query($k: String!) { previewSubscriptionChange(input: { planKey: $k }) { amountDue } }',
        ];
        for (const operation of operations) {
          const answer = await gql(
            operation.includes('acct_plan_keys_2') ? 'admin_plans' : account,
            operation,
            {
              k: planKey,
            },
          );
          expect({ planKey, operation, code: answer.errors?.[0]?.extensions?.code }).toEqual({
            planKey,
            operation,
            code: 'BAD_USER_INPUT',
          });
          expectCleanError(answer);
        }
      }
    });

    it('stores SQL-looking and Unicode customer details intact, in Stripe and in the database', async () => {
      const account = 'acct_unicode';
      for (const text of [...SQLISH, ...UNICODE]) {
        const address = {
          line1: text,
          line2: text,
          city: text,
          state: text,
          postalCode: text.slice(0, 20),
          country: 'DE',
        };
        const answer = await gql(
          account,
          'mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { id name address { line1 line2 city state postalCode country } } }',
          { input: { name: text, address } },
        );
        expect(answer.errors).toBeUndefined();
        const customer = answer.data?.updateCustomer as { id: string; name: string; address: object };
        expect(customer).toMatchObject({ name: text, address });
        const read = await gql(account, '{ viewer { customer { name address { line1 city } } } }');
        expect(read.data).toEqual({
          viewer: { customer: { name: text, address: { line1: text, city: text } } },
        });
        const row = await stack.app.orm.em.fork().findOneOrFail(BillingCustomer, { accountId: account });
        expect({ name: row.name, line2: row.address?.line2 }).toEqual({ name: text, line2: text });
        expect(((await stack.stripe.customers.retrieve(customer.id)) as Stripe.Customer).name).toBe(text);
      }
      // Emails: an odd but valid one is kept, an injection attempt is not an email.
      const odd = await gql(
        account,
        'mutation { updateCustomer(input: { email: "o\'brien+1=1@example.com" }) { email } }',
      );
      expect(odd.data).toEqual({ updateCustomer: { email: "o'brien+1=1@example.com" } });
      const injected = await gql(
        account,
        'mutation($e: String) { updateCustomer(input: { email: $e }) { email } }',
        {
          e: "x@example.com'; drop table billing_customer; --",
        },
      );
      expect(injected.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'email' });
    });

    it('refuses NUL and broken Unicode with BAD_USER_INPUT, and changes nothing in Stripe or the database', async () => {
      const account = 'acct_nul';
      const first = await gql(account, 'mutation { updateCustomer(input: { name: "Before" }) { id name } }');
      const customerId = (first.data?.updateCustomer as { id: string }).id;
      const attempts: Array<[string, Record<string, unknown>]> = [
        ['a NUL in the name', { name: 'Evil\u0000Corp' }],
        ['a NUL in an address line', { address: { line1: 'Main St\u0000 1' } }],
        ['a lone surrogate in the name', { name: 'broken \ud83d text' }],
      ];
      for (const [what, input] of attempts) {
        const answer = await gql(
          account,
          'mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { name } }',
          {
            input,
          },
        );
        expect({ what, code: answer.errors?.[0]?.extensions?.code }).toEqual({
          what,
          code: 'BAD_USER_INPUT',
        });
        expectCleanError(answer);
      }
      // A NUL written as an escape in the document itself is refused the same way.
      const literal = await gql(
        account,
        'mutation { updateCustomer(input: { name: "Evil\\u0000Corp" }) { name } }',
      );
      expect(literal.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const row = await stack.app.orm.em.fork().findOneOrFail(BillingCustomer, { accountId: account });
      expect(row.name).toBe('Before');
      expect(((await stack.stripe.customers.retrieve(customerId)) as Stripe.Customer).name).toBe('Before');
      // Ids are text too: a NUL in one is refused, not an internal error from the database.
      const admin = await gql('admin_ids', '{ account(id: "acct\\u0000x") { id plan { key } } }');
      expect(admin.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });

    it('keeps idempotency keys as data: odd printable keys are stored intact, others refused cleanly', async () => {
      const account = 'acct_keys';
      const record = (key: string) =>
        gql(
          account,
          'mutation($key: String!) { recordUsage(input: { metric: "ai_requests", quantity: 1, idempotencyKey: $key }) { duplicate } }',
          {
            key,
          },
        );
      const kept = ["';drop-table-usage_record;--", "'OR'1'='1", '$(rm)`x`<script>'];
      for (const key of kept) {
        expect((await record(key)).data).toEqual({ recordUsage: { duplicate: false } });
        expect((await record(key)).data).toEqual({ recordUsage: { duplicate: true } });
      }
      const stored = await stack.app.orm.em.fork().find(UsageRecord, { accountId: account });
      // A user's keys are kept in their own namespace (`user:`), byte for byte after it.
      expect(stored.map((row) => row.idempotencyKey).sort()).toEqual(kept.map((key) => `user:${key}`).sort());
      for (const key of ["' OR 1=1 --", '😀', 'rtl\u202ekey', 'nul\u0000', 'x'.repeat(256)]) {
        const answer = await record(key);
        expect({ key, code: answer.errors?.[0]?.extensions?.code }).toEqual({ key, code: 'BAD_USER_INPUT' });
        expectCleanError(answer);
      }
      expect(await stack.app.orm.em.fork().count(UsageRecord, { accountId: account })).toBe(kept.length);
    });

    it('stores override notes intact, and refuses a NUL in one', async () => {
      const set = (note: string) =>
        gql(
          'admin_notes',
          'mutation($note: String) { setEntitlementOverride(input: { accountId: "acct_notes", feature: "api_access", enabled: true, note: $note }) }',
          { note },
        );
      for (const note of [...SQLISH, ...UNICODE]) {
        expect((await set(note)).data).toEqual({ setEntitlementOverride: true });
        const row = await stack.app.orm.em
          .fork()
          .findOneOrFail(EntitlementOverride, { accountId: 'acct_notes', featureKey: 'api_access' });
        expect(row.note).toBe(note);
      }
      const refused = await set('contract\u0000C-1');
      expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });

    it('still has every table afterwards', async () => {
      expect(await tables()).toEqual(tablesBefore);
    });
  });
});
