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

it('shows a new account a balance of zero and an empty ledger', async () => {
  const token = await service.token('acct_credits_new');
  const answer = await service.graphql(
    '{ viewer { balance { credits held available expiringSoon { credits } } creditLedger { nodes { id } pageInfo { hasNextPage endCursor } } } }',
    { token },
  );
  expect(answer.errors).toBeUndefined();
  expect(answer.data).toEqual({
    viewer: {
      balance: { credits: 0, held: 0, available: 0, expiringSoon: null },
      creditLedger: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } },
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
      balance: { credits: 550, held: 0, available: 550, expiringSoon: { credits: 500, at: expiresAt } },
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
  expect(first2.data?.viewer.creditLedger.nodes).toEqual([
    { kind: 'GRANT', credits: 30, balanceAfter: 550, reason: 'More goodwill', sourceType: 'admin' },
    { kind: 'GRANT', credits: 20, balanceAfter: 520, reason: 'Goodwill', sourceType: 'admin' },
  ]);
  expect(first2.data?.viewer.creditLedger.pageInfo.hasNextPage).toBe(true);
  const next = await service.graphql<Page>(page, {
    token,
    variables: { after: first2.data?.viewer.creditLedger.pageInfo.endCursor },
  });
  expect(next.data?.viewer.creditLedger.nodes).toEqual([
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
    viewer: { balance: { credits: 0 } },
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
    viewer: { balance: { credits: 0 } },
  });
});

it('pushes balanceUpdated over graphql-ws after a grant, to the account and nobody else', async () => {
  const account = 'acct_credits_live';
  const mine = connectSocket(service.url, `Bearer ${await service.token(account)}`);
  const other = connectSocket(service.url, `Bearer ${await service.token('acct_credits_other')}`);
  const query = 'subscription { balanceUpdated { credits held available expiringSoon { credits } } }';
  const updates = subscribe<{ balanceUpdated: Record<string, unknown> }>(mine, query);
  const elsewhere = subscribe(other, query);
  try {
    await waitUntil(async () => (await activeSubscriptions()) >= 2, 'both subscriptions are running');
    const granted = await grant({ accountId: account, credits: 75, idempotencyKey: 'live-1' });
    expect(granted.errors).toBeUndefined();
    expect(await updates.next()).toEqual({
      balanceUpdated: { credits: 75, held: 0, available: 75, expiringSoon: null },
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
