import { startTestService, type TestService } from '../support/service';
import { waitUntil } from '../support/wait';
import { connectSocket, subscribe } from '../support/ws-client';

/**
 * Credits over the API (issue 17): `viewer.balance` and `viewer.creditLedger` for the caller's own account,
 * `grantCredits` for admins only (validated, once per idempotency key), and `balanceUpdated` over graphql-ws
 * after a grant, on the account's own channel.
 */

let service: TestService;
let adminToken: string;

beforeAll(async () => {
  service = await startTestService();
  adminToken = await service.token('acct_credits_ops', { roles: ['admin'] });
});
afterAll(async () => {
  await service.stop();
});

const GRANT = `mutation Grant($input: GrantCreditsInput!) {
  grantCredits(input: $input) { lotId credits expiresAt duplicate }
}`;
const BALANCE = `{ viewer { balance { credits held available expiringSoon { credits at } } } }`;

function grant(input: Record<string, unknown>, token = adminToken) {
  return service.graphql<{ grantCredits: { lotId: string; credits: number; duplicate: boolean } }>(GRANT, {
    token,
    variables: { input: { reason: 'Launch promotion', ...input } },
  });
}

async function activeSubscriptions(): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  const line = text.split('\n').find((row) => row.startsWith('billing_graphql_subscriptions_active '));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

/** The free plan's included credits (plans.yaml), there from the first read of a period (docs/credits.md). */
const FREE_INCLUDED = 1000;

it('shows a new account its plan’s included credits, and their one entry in the ledger', async () => {
  const token = await service.token('acct_credits_new');
  const answer = await service.graphql('{ viewer { balance { credits held available } } }', { token });
  expect(answer.errors).toBeUndefined();
  expect(answer.data).toEqual({
    viewer: { balance: { credits: FREE_INCLUDED, held: 0, available: FREE_INCLUDED } },
  });
  const ledger = await service.graphql(
    '{ viewer { creditLedger { nodes { kind credits sourceType } pageInfo { hasNextPage } } } }',
    { token },
  );
  expect(ledger.data).toEqual({
    viewer: {
      creditLedger: {
        nodes: [{ kind: 'INCLUDED', credits: FREE_INCLUDED, sourceType: 'plan_period' }],
        pageInfo: { hasNextPage: false },
      },
    },
  });
});

it('lets an admin grant credits once per key, and the customer sees them, expiring soon, in the ledger', async () => {
  const account = 'acct_credits_granted';
  const expiresAt = new Date(Date.now() + 3 * 86_400_000).toISOString();
  const first = await grant({ accountId: account, credits: 500, expiresAt, idempotencyKey: 'promo-1' });
  expect(first.errors).toBeUndefined();
  expect(first.data?.grantCredits).toMatchObject({ credits: 500, duplicate: false });
  const again = await grant({ accountId: account, credits: 500, expiresAt, idempotencyKey: 'promo-1' });
  expect(again.data?.grantCredits).toEqual({ ...first.data?.grantCredits, duplicate: true });
  await grant({ accountId: account, credits: 20, idempotencyKey: 'goodwill-1', reason: 'Goodwill' });
  await grant({ accountId: account, credits: 30, idempotencyKey: 'goodwill-2', reason: 'More goodwill' });

  const token = await service.token(account);
  const balance = await service.graphql(BALANCE, { token });
  expect(balance.data).toEqual({
    viewer: {
      balance: {
        credits: 550 + FREE_INCLUDED,
        held: 0,
        available: 550 + FREE_INCLUDED,
        expiringSoon: { credits: 500, at: expiresAt },
      },
    },
  });

  const page = `query Page($after: String) {
    viewer { creditLedger(first: 2, after: $after) {
      nodes { kind credits balanceAfter reason sourceType } pageInfo { hasNextPage endCursor } } }
  }`;
  type Page = {
    viewer: {
      creditLedger: {
        nodes: Array<{ kind: string; credits: number; balanceAfter: number; reason: string }>;
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
      };
    };
  };
  const first2 = await service.graphql<Page>(page, { token });
  // The period's included credits were granted at the first read of the balance, after the grants.
  expect(first2.data?.viewer.creditLedger.nodes).toEqual([
    expect.objectContaining({ kind: 'INCLUDED', credits: FREE_INCLUDED, balanceAfter: 550 + FREE_INCLUDED }),
    { kind: 'GRANT', credits: 30, balanceAfter: 550, reason: 'More goodwill', sourceType: 'admin' },
  ]);
  expect(first2.data?.viewer.creditLedger.pageInfo.hasNextPage).toBe(true);
  const next = await service.graphql<Page>(page, {
    token,
    variables: { after: first2.data?.viewer.creditLedger.pageInfo.endCursor },
  });
  expect(next.data?.viewer.creditLedger.nodes).toEqual([
    { kind: 'GRANT', credits: 20, balanceAfter: 520, reason: 'Goodwill', sourceType: 'admin' },
    { kind: 'GRANT', credits: 500, balanceAfter: 500, reason: 'Launch promotion', sourceType: 'admin' },
  ]);
  expect(next.data?.viewer.creditLedger.pageInfo.hasNextPage).toBe(false);
  const forged = await service.graphql(page, { token, variables: { after: 'not-a-cursor' } });
  expect(forged.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
});

it('refuses grantCredits to a customer (FORBIDDEN), and writes nothing', async () => {
  const token = await service.token('acct_credits_customer');
  const answer = await grant(
    { accountId: 'acct_credits_customer', credits: 1000, idempotencyKey: 'self-grant' },
    token,
  );
  expect(answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect((await service.graphql(BALANCE, { token })).data).toMatchObject({
    viewer: { balance: { credits: FREE_INCLUDED } },
  });
});

it.each([
  ['no credits', { credits: 0 }],
  ['more than 10^9 credits', { credits: 1_000_000_001 }],
  ['a fraction of a credit', { credits: 1.5 }],
  ['an expiry in the past', { credits: 10, expiresAt: '2020-01-01T00:00:00Z' }],
  ['no reason', { credits: 10, reason: '' }],
  ['a reason over 500 characters', { credits: 10, reason: 'x'.repeat(501) }],
])('refuses a grant of %s with BAD_USER_INPUT, writing nothing', async (_name, input) => {
  const account = 'acct_credits_refused';
  const answer = await grant({ accountId: account, idempotencyKey: `bad-${_name}`, ...input });
  expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  const token = await service.token(account);
  expect((await service.graphql(BALANCE, { token })).data).toMatchObject({
    viewer: { balance: { credits: FREE_INCLUDED } },
  });
});

it('pushes balanceUpdated over graphql-ws after a grant, to the account and nobody else', async () => {
  const account = 'acct_credits_live';
  const mine = connectSocket(service.url, `Bearer ${await service.token(account)}`);
  const other = connectSocket(service.url, `Bearer ${await service.token('acct_credits_other')}`);
  const query =
    'subscription { balanceUpdated { credits held available expiringSoon { credits } spend { monthlyCents spentCents } } }';
  const updates = subscribe<{ balanceUpdated: Record<string, unknown> }>(mine, query);
  const elsewhere = subscribe(other, query);
  try {
    await waitUntil(async () => (await activeSubscriptions()) >= 2, 'both subscriptions are running');
    const granted = await grant({ accountId: account, credits: 75, idempotencyKey: 'live-1' });
    expect(granted.errors).toBeUndefined();
    expect(await updates.next()).toEqual({
      balanceUpdated: {
        credits: 75,
        held: 0,
        available: 75,
        expiringSoon: null,
        spend: { monthlyCents: null, spentCents: 0 },
      },
    });
    expect(await elsewhere.staysQuiet(500)).toBe(true);
    expect(updates.errors).toEqual([]);
  } finally {
    updates.close();
    elsewhere.close();
    await mine.dispose();
    await other.dispose();
  }
});

it('reserves, commits and releases a model call over GraphQL, priced in credits (issue 17 item 3)', async () => {
  const account = 'acct_credits_tokens';
  const token = await service.token(account);
  const reserve = (input: Record<string, unknown>) =>
    service.graphql<{ reserveUsage: { id: string; metric: string | null; model: string; quantity: number } }>(
      'mutation R($input: ReserveUsageInput!) { reserveUsage(input: $input) { id metric model quantity duplicate usage { used } } }',
      { token, variables: { input } },
    );
  // claude-sonnet-4 (plans.yaml): 1,200 in + 300 out = 8.1, so 9 credits held.
  const reserved = await reserve({ model: 'claude-sonnet-4', inputTokens: 1200, maxOutputTokens: 300 });
  expect(reserved.errors).toBeUndefined();
  expect(reserved.data?.reserveUsage).toMatchObject({ metric: null, model: 'claude-sonnet-4', quantity: 9 });
  const committed = await service.graphql<{ commitUsage: Record<string, unknown> }>(
    'mutation C($input: CommitUsageInput!) { commitUsage(input: $input) { duplicate usage { used } credits { credits burned uncovered } } }',
    {
      token,
      variables: {
        input: { reservationId: reserved.data?.reserveUsage.id, inputTokens: 1000, outputTokens: 100 },
      },
    },
  );
  expect(committed.data?.commitUsage).toEqual({
    duplicate: false,
    usage: null,
    credits: { credits: 5, burned: 5, uncovered: 0 },
  });
  const second = await reserve({ model: 'claude-sonnet-4', inputTokens: 10, maxOutputTokens: 10 });
  const released = await service.graphql(
    'mutation L($input: ReleaseUsageInput!) { releaseUsage(input: $input) }',
    { token, variables: { input: { reservationId: second.data?.reserveUsage.id } } },
  );
  expect(released.data).toEqual({ releaseUsage: true });
  expect((await service.graphql(BALANCE, { token })).data).toMatchObject({
    viewer: { balance: { credits: FREE_INCLUDED - 5, held: 0 } },
  });

  const both = await reserve({
    metric: 'ai_requests',
    quantity: 1,
    model: 'claude-sonnet-4',
    inputTokens: 1,
    maxOutputTokens: 1,
  });
  expect(both.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'metric' });
  const unknown = await reserve({ model: 'gpt-unknown', inputTokens: 1, maxOutputTokens: 1 });
  expect(unknown.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  const tooMuch = await reserve({ model: 'claude-sonnet-4', inputTokens: 0, maxOutputTokens: 10_000_000 });
  expect(tooMuch.errors?.[0]?.extensions).toMatchObject({
    code: 'USAGE_LIMIT_EXCEEDED',
    available: FREE_INCLUDED - 5,
    requested: 150_000,
  });
});
