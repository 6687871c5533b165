import { randomUUID } from 'node:crypto';
import { MemberLimitReachedError } from '../../src/errors';
import { startTestService, type TestService } from '../support/service';

/**
 * Members' limits over the API (issue 17, items 4 and 5): `setMemberLimit` for the account's own people and
 * admins (never a calling service, never another customer), `viewer.memberUsage` a page at a time, and the
 * journey of the issue: a member reaching the limit while the account still has credits, which the member's
 * next hold is refused for (MEMBER_LIMIT_REACHED) and the customer sees.
 */

let service: TestService;
let adminToken: string;

beforeAll(async () => {
  service = await startTestService();
  adminToken = await service.token('acct_members_ops', { roles: ['admin'] });
});
afterAll(async () => {
  await service.stop();
});

const SET = `mutation Set($input: SetMemberLimitInput!) {
  setMemberLimit(input: $input) { memberId monthlyCredits used held remaining periodStart periodEnd }
}`;
const USAGE = `query Usage($first: Int, $after: String) {
  viewer { memberUsage(first: $first, after: $after) {
    nodes { memberId monthlyCredits used held remaining } pageInfo { hasNextPage endCursor } } }
}`;

interface Usage {
  viewer: {
    memberUsage: {
      nodes: Array<{ memberId: string; monthlyCredits: number | null; used: number; held: number }>;
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    };
  };
}

function setLimit(input: Record<string, unknown>, token: string) {
  return service.graphql<{ setMemberLimit: Record<string, unknown> }>(SET, { token, variables: { input } });
}

async function grant(accountId: string, credits: number): Promise<void> {
  const answer = await service.graphql(
    `mutation { grantCredits(input: { accountId: "${accountId}", credits: ${credits}, reason: "pack", idempotencyKey: "${randomUUID()}" }) { duplicate } }`,
    { token: adminToken },
  );
  expect(answer.errors).toBeUndefined();
}

function hold(accountId: string, memberId: string, credits: number, holdId = randomUUID()) {
  return service.app.services.credits.ledger.hold({ accountId, memberId, credits, ttlSeconds: 600, holdId });
}

it('lets the customer set a member’s limit and see the member reach it while the account has credits', async () => {
  const account = 'acct_members_journey';
  const token = await service.token(account);
  await grant(account, 1000);
  const set = await setLimit({ memberId: 'dev-42@example.com', monthlyCredits: 100 }, token);
  expect(set.errors).toBeUndefined();
  expect(set.data?.setMemberLimit).toMatchObject({
    memberId: 'dev-42@example.com',
    monthlyCredits: 100,
    used: 0,
    held: 0,
    remaining: 100,
  });

  const work = randomUUID();
  expect(await hold(account, 'dev-42@example.com', 80, work)).toMatchObject({ ok: true });
  await service.app.services.credits.ledger.settle({ accountId: account, holdId: work, credits: 90 });
  await expect(hold(account, 'dev-42@example.com', 11)).rejects.toBeInstanceOf(MemberLimitReachedError);
  // A teammate without a limit still works: the account has credits left.
  expect(await hold(account, 'dev-7@example.com', 500)).toMatchObject({ ok: true });

  const usage = await service.graphql<Usage>(USAGE, { token });
  expect(usage.errors).toBeUndefined();
  expect(usage.data?.viewer.memberUsage.nodes).toEqual([
    { memberId: 'dev-42@example.com', monthlyCredits: 100, used: 90, held: 0, remaining: 10 },
    { memberId: 'dev-7@example.com', monthlyCredits: null, used: 0, held: 500, remaining: null },
  ]);
  // Plus the free plan's 1,000 included credits of the month, granted when the balance is first read.
  const balance = await service.graphql('{ viewer { balance { credits held available } } }', { token });
  expect(balance.data).toEqual({ viewer: { balance: { credits: 1910, held: 500, available: 1410 } } });
});

it('pages members by id and refuses a cursor it did not make', async () => {
  const account = 'acct_members_pages';
  const token = await service.token(account);
  for (const memberId of ['c', 'a', 'b']) await setLimit({ memberId, monthlyCredits: 5 }, token);
  const first = await service.graphql<Usage>(USAGE, { token, variables: { first: 2 } });
  expect(first.data?.viewer.memberUsage.nodes.map((node) => node.memberId)).toEqual(['a', 'b']);
  expect(first.data?.viewer.memberUsage.pageInfo.hasNextPage).toBe(true);
  const next = await service.graphql<Usage>(USAGE, {
    token,
    variables: { first: 2, after: first.data?.viewer.memberUsage.pageInfo.endCursor },
  });
  expect(next.data?.viewer.memberUsage).toEqual({
    nodes: [{ memberId: 'c', monthlyCredits: 5, used: 0, held: 0, remaining: 5 }],
    pageInfo: { hasNextPage: false, endCursor: expect.any(String) },
  });
  const forged = await service.graphql(USAGE, { token, variables: { after: 'not-a-cursor' } });
  expect(forged.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
});

it('removes a limit with null', async () => {
  const token = await service.token('acct_members_removed');
  await setLimit({ memberId: 'ops-bot', monthlyCredits: 10 }, token);
  const removed = await setLimit({ memberId: 'ops-bot', monthlyCredits: null }, token);
  expect(removed.data?.setMemberLimit).toMatchObject({ monthlyCredits: null, remaining: null });
  const usage = await service.graphql<Usage>(USAGE, { token });
  expect(usage.data?.viewer.memberUsage.nodes).toEqual([]);
});

describe('who may set a member’s limit', () => {
  const account = 'acct_members_owned';

  it('is refused to a calling service, even for the account it serves, and to another customer', async () => {
    const serviceToken = await service.token('svc_ai_gateway', { roles: ['service'] });
    const byService = await setLimit({ accountId: account, memberId: 'm', monthlyCredits: 1 }, serviceToken);
    expect(byService.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const ownService = await service.token(account, { roles: ['service'] });
    const byOwnService = await setLimit({ memberId: 'm', monthlyCredits: 1 }, ownService);
    expect(byOwnService.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const other = await service.token('acct_members_stranger');
    const byOther = await setLimit({ accountId: account, memberId: 'm', monthlyCredits: 1 }, other);
    expect(byOther.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const usage = await service.graphql<Usage>(USAGE, { token: await service.token(account) });
    expect(usage.data?.viewer.memberUsage.nodes).toEqual([]);
  });

  it('lets an admin set it for any account, recorded as the admin’s', async () => {
    const answer = await setLimit({ accountId: account, memberId: 'm', monthlyCredits: 7 }, adminToken);
    expect(answer.errors).toBeUndefined();
    const [row] = await service.app.orm.em
      .getConnection()
      .execute<Array<{ updated_by: string }>>(
        'select updated_by from credit_member_limit where account_id = ? and member_id = ?',
        [account, 'm'],
      );
    expect(row?.updated_by).toBe('admin:acct_members_ops');
  });

  it.each([
    ['an empty member id', { memberId: '', monthlyCredits: 1 }],
    ['a member id over 128 characters', { memberId: 'm'.repeat(129), monthlyCredits: 1 }],
    ['a member id with a control character', { memberId: 'a\u0007b', monthlyCredits: 1 }],
    ['a negative limit', { memberId: 'm', monthlyCredits: -1 }],
    ['a fraction of a credit', { memberId: 'm', monthlyCredits: 0.5 }],
  ])('refuses %s with BAD_USER_INPUT, writing nothing', async (_name, input) => {
    const token = await service.token('acct_members_bad');
    const answer = await setLimit(input, token);
    expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const usage = await service.graphql<Usage>(USAGE, { token });
    expect(usage.data?.viewer.memberUsage.nodes).toEqual([]);
  });
});
