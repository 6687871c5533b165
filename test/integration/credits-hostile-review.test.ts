import { createHash, randomUUID } from 'node:crypto';
import { customerWithCard } from '../support/stripe-customer';
import { type BillingStack, type GraphQLCaller, startBillingStack } from '../support/billing-stack';

/**
 * Issue 17 from outside, as a hostile customer would try it: the public GraphQL API against the Stripe emulator.
 * Each test names what it tries to game and what the docs (docs/credits.md) say must happen instead.
 */
const ALLOWED = 'http://localhost:3000';

let stack: BillingStack;
let admin: GraphQLCaller;

beforeAll(async () => {
  stack = await startBillingStack({ BILLING_ALLOWED_REDIRECT_ORIGINS: ALLOWED }, { webhooks: true });
  admin = await stack.as('acct_hostile_ops', ['admin']);
});
afterAll(() => stack.stop());

const RESERVE = `mutation($input: ReserveUsageInput!) { reserveUsage(input: $input) { id quantity duplicate } }`;
const COMMIT = `mutation($input: CommitUsageInput!) { commitUsage(input: $input) {
  duplicate credits { credits burned uncovered billed } } }`;
const RELEASE = `mutation($input: ReleaseUsageInput!) { releaseUsage(input: $input) }`;
const BALANCE = '{ viewer { balance { credits held available } } }';

type Balance = { credits: number; held: number; available: number };
type Reserved = { reserveUsage: { id: string; quantity: number; duplicate: boolean } };

async function balanceOf(gql: GraphQLCaller): Promise<Balance> {
  const answer = await gql<{ viewer: { balance: Balance } }>(BALANCE);
  expect(answer.errors).toBeUndefined();
  return answer.data?.viewer.balance as Balance;
}

function codeOf(answer: { errors?: Array<{ extensions?: Record<string, unknown> }> }): unknown {
  return answer.errors?.[0]?.extensions?.code;
}

async function grant(accountId: string, credits: number): Promise<void> {
  const answer = await admin(
    'mutation($input: GrantCreditsInput!) { grantCredits(input: $input) { duplicate } }',
    { input: { accountId, credits, reason: 'review', idempotencyKey: randomUUID() } },
  );
  expect(answer.errors).toBeUndefined();
}

/** 1,000 input and 0 output tokens of claude-sonnet-4 at 3,000 credits a million: 3 credits. */
const call = (extra: Record<string, unknown> = {}) => ({
  model: 'claude-sonnet-4',
  inputTokens: 1000,
  maxOutputTokens: 0,
  ...extra,
});

describe('reserving a model call with hostile token counts', () => {
  it.each([
    ['an unknown model', { model: 'gpt-free' }, 'BAD_USER_INPUT'],
    ['negative input tokens', { inputTokens: -1000 }, 'BAD_USER_INPUT'],
    ['negative output tokens', { maxOutputTokens: -1000 }, 'BAD_USER_INPUT'],
    ['fractional input tokens', { inputTokens: 1.5 }, 'BAD_USER_INPUT'],
    ['input tokens past GraphQL’s Int', { inputTokens: 2 ** 31 }, 'BAD_USER_INPUT'],
    ['a metric with the model', { metric: 'ai_requests' }, 'BAD_USER_INPUT'],
    ['a member id with a space at its end', { memberId: 'alice ' }, 'BAD_USER_INPUT'],
    ['a member id of 200 characters', { memberId: 'm'.repeat(200) }, 'BAD_USER_INPUT'],
    ['a ttl of an hour and one second', { ttlSeconds: 3601 }, 'BAD_USER_INPUT'],
  ])('refuses %s with %s and holds nothing', async (_name, extra, code) => {
    const gql = await stack.as('acct_hostile_tokens');
    const before = await balanceOf(gql);
    const answer = await gql(RESERVE, { input: call(extra) });
    expect(codeOf(answer)).toBe(code);
    expect(await balanceOf(gql)).toEqual(before);
  });

  it('names the unknown model and the known ones, never pricing it at 0', async () => {
    const gql = await stack.as('acct_hostile_tokens');
    const answer = await gql(RESERVE, { input: call({ model: 'gpt-free' }) });
    expect(answer.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      reason: 'UNKNOWN_MODEL',
      model: 'gpt-free',
    });
  });
});

describe('spending under concurrency', () => {
  it('admits exactly what the balance holds when 30 reservations race', async () => {
    const gql = await stack.as('acct_hostile_race');
    const { available } = await balanceOf(gql); // the free plan's 1,000 included credits
    // 33,334 input tokens at 3,000 a million: ceil(100.002) = 101 credits each.
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => gql<Reserved>(RESERVE, { input: call({ inputTokens: 33_334 }) })),
    );
    const admitted = answers.filter((answer) => !answer.errors);
    expect(admitted.length).toBe(Math.floor(available / 101));
    expect(answers.filter((answer) => answer.errors).map(codeOf)).toEqual(
      Array(30 - admitted.length).fill('USAGE_LIMIT_EXCEEDED'),
    );
    expect(await balanceOf(gql)).toEqual({
      credits: available,
      held: admitted.length * 101,
      available: available - admitted.length * 101,
    });
  });

  it('admits exactly a member’s limit when one member’s reservations race', async () => {
    const account = 'acct_hostile_member_race';
    const gql = await stack.as(account);
    await grant(account, 100_000);
    const set = await gql(
      'mutation { setMemberLimit(input: { memberId: "dev-1", monthlyCredits: 300 }) { remaining } }',
    );
    expect(set.errors).toBeUndefined();
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        gql<Reserved>(RESERVE, { input: call({ inputTokens: 33_334, memberId: 'dev-1' }) }),
      ),
    );
    expect(answers.filter((answer) => !answer.errors).length).toBe(2);
    expect(new Set(answers.filter((answer) => answer.errors).map(codeOf))).toEqual(
      new Set(['MEMBER_LIMIT_REACHED']),
    );
  });

  it('refuses a member at the limit a reservation of 0 tokens, whose commit would pass the limit', async () => {
    const account = 'acct_hostile_member_zero';
    const gql = await stack.as(account);
    const gateway = await stack.as('svc_hostile_gateway', ['service']);
    await grant(account, 100_000);
    for (const [memberId, monthlyCredits] of [
      ['nobody', 0],
      ['spent', 3],
    ] as const) {
      const set = await gql(
        'mutation($input: SetMemberLimitInput!) { setMemberLimit(input: $input) { remaining } }',
        {
          input: { memberId, monthlyCredits },
        },
      );
      expect(set.errors).toBeUndefined();
    }
    const spent = await gateway<Reserved>(RESERVE, {
      input: call({ accountId: account, memberId: 'spent' }),
    });
    await gateway(COMMIT, {
      input: {
        accountId: account,
        reservationId: spent.data?.reserveUsage.id,
        inputTokens: 1000,
        outputTokens: 0,
      },
    });
    for (const memberId of ['nobody', 'spent']) {
      const empty = await gateway(RESERVE, {
        input: call({ accountId: account, memberId, inputTokens: 0, maxOutputTokens: 0 }),
      });
      expect(empty.errors?.[0]?.extensions).toMatchObject({
        code: 'MEMBER_LIMIT_REACHED',
        memberId,
        requested: 0,
      });
    }
    const members = await gql<{ viewer: { memberUsage: { nodes: unknown[] } } }>(
      '{ viewer { memberUsage { nodes { memberId used held remaining } } } }',
    );
    expect(members.data?.viewer.memberUsage.nodes).toEqual([
      { memberId: 'nobody', used: 0, held: 0, remaining: 0 },
      { memberId: 'spent', used: 3, held: 0, remaining: 0 },
    ]);
  });

  it('burns once when the same reservation is committed twice at once', async () => {
    const gql = await stack.as('acct_hostile_double_commit');
    const before = await balanceOf(gql);
    const reserved = await gql<Reserved>(RESERVE, { input: call() });
    const id = reserved.data?.reserveUsage.id;
    const commits = await Promise.all(
      Array.from({ length: 5 }, () =>
        gql<{ commitUsage: { duplicate: boolean } }>(COMMIT, {
          input: { reservationId: id, inputTokens: 1000, outputTokens: 0 },
        }),
      ),
    );
    expect(commits.map((answer) => answer.errors)).toEqual(Array(5).fill(undefined));
    expect(commits.filter((answer) => answer.data?.commitUsage.duplicate === false).length).toBe(1);
    expect(await balanceOf(gql)).toEqual({
      credits: before.credits - 3,
      held: 0,
      available: before.credits - 3,
    });
  });
});

describe('committing and releasing what is not there', () => {
  it('refuses negative tokens on a commit and leaves the reservation live', async () => {
    const gql = await stack.as('acct_hostile_negative_commit');
    const reserved = await gql<Reserved>(RESERVE, { input: call() });
    const id = reserved.data?.reserveUsage.id;
    const before = await balanceOf(gql);
    for (const tokens of [
      { inputTokens: -1_000_000, outputTokens: 0 },
      { inputTokens: 0, outputTokens: -5 },
    ]) {
      const answer = await gql(COMMIT, { input: { reservationId: id, ...tokens } });
      expect(codeOf(answer)).toBe('BAD_USER_INPUT');
    }
    expect(await balanceOf(gql)).toEqual(before);
    expect((await gql(RELEASE, { input: { reservationId: id } })).data).toEqual({ releaseUsage: true });
  });

  it('answers CONFLICT to a commit after a release, and false to a release after a commit', async () => {
    const gql = await stack.as('acct_hostile_release');
    const released = await gql<Reserved>(RESERVE, { input: call() });
    const releasedId = released.data?.reserveUsage.id;
    expect((await gql(RELEASE, { input: { reservationId: releasedId } })).data).toEqual({
      releaseUsage: true,
    });
    expect((await gql(RELEASE, { input: { reservationId: releasedId } })).data).toEqual({
      releaseUsage: false,
    });
    const late = await gql(COMMIT, {
      input: { reservationId: releasedId, inputTokens: 1000, outputTokens: 0 },
    });
    expect(codeOf(late)).toBe('CONFLICT');

    const committed = await gql<Reserved>(RESERVE, { input: call() });
    const committedId = committed.data?.reserveUsage.id;
    await gql(COMMIT, { input: { reservationId: committedId, inputTokens: 1000, outputTokens: 0 } });
    expect((await gql(RELEASE, { input: { reservationId: committedId } })).data).toEqual({
      releaseUsage: false,
    });
  });

  it('commits an expired reservation once, however often it is committed after', async () => {
    const gql = await stack.as('acct_hostile_expired');
    const before = await balanceOf(gql);
    const reserved = await gql<Reserved>(RESERVE, { input: call({ ttlSeconds: 1 }) });
    const id = reserved.data?.reserveUsage.id;
    await stack.advanceClock(5);
    expect(await balanceOf(gql)).toEqual(before);
    const input = { reservationId: id, inputTokens: 1000, outputTokens: 0 };
    const first = await gql<{ commitUsage: { duplicate: boolean } }>(COMMIT, { input });
    const second = await gql<{ commitUsage: { duplicate: boolean } }>(COMMIT, { input });
    expect([first.data?.commitUsage.duplicate, second.data?.commitUsage.duplicate]).toEqual([false, true]);
    expect((await balanceOf(gql)).credits).toBe(before.credits - 3);
    expect((await gql(RELEASE, { input: { reservationId: id } })).data).toEqual({ releaseUsage: false });
  });

  it('never lets another account commit or release a reservation (NOT_FOUND), nor its member id reach them', async () => {
    const owner = await stack.as('acct_hostile_owner');
    const thief = await stack.as('acct_hostile_thief');
    const reserved = await owner<Reserved>(RESERVE, { input: call() });
    const id = reserved.data?.reserveUsage.id;
    const commit = await thief(COMMIT, { input: { reservationId: id, inputTokens: 1000, outputTokens: 0 } });
    expect(codeOf(commit)).toBe('NOT_FOUND');
    expect(codeOf(await thief(RELEASE, { input: { reservationId: id } }))).toBe('NOT_FOUND');
    const named = await thief(COMMIT, {
      input: { reservationId: id, inputTokens: 1000, outputTokens: 0, accountId: 'acct_hostile_owner' },
    });
    expect(codeOf(named)).toBe('FORBIDDEN');
    expect((await balanceOf(owner)).held).toBe(3);
  });
});

describe('a user and the calling service’s reservations on the user’s own account', () => {
  /** The id a reservation with `key` gets, as anyone can derive it (token-reservations.ts, before this review). */
  function publicHoldId(accountId: string, key: string): string {
    const hex = createHash('sha256').update(`token-reservation\n${accountId}\n${key}`).digest('hex');
    const variant = ((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }

  it('never lets a user commit the gateway’s reservation for nothing, nor release it, even knowing its key', async () => {
    const account = 'acct_hostile_free_calls';
    const gateway = await stack.as('svc_hostile_gateway', ['service']);
    const user = await stack.as(account);
    const before = await balanceOf(user);
    const reserved = await gateway<Reserved>(RESERVE, {
      input: call({ accountId: account, idempotencyKey: 'request-42' }),
    });
    expect(reserved.errors).toBeUndefined();
    const id = reserved.data?.reserveUsage.id as string;
    // The key is the request id the user’s own client sent: the user derives the hold’s id and settles it at 0.
    const guessed = publicHoldId(account, 'request-42');
    const zero = await user(COMMIT, { input: { reservationId: guessed, inputTokens: 0, outputTokens: 0 } });
    expect(codeOf(zero)).toBe('NOT_FOUND');
    expect(codeOf(await user(RELEASE, { input: { reservationId: id } }))).toBe('NOT_FOUND');
    expect(
      codeOf(await user(COMMIT, { input: { reservationId: id, inputTokens: 0, outputTokens: 0 } })),
    ).toBe('NOT_FOUND');

    const real = await gateway<{ commitUsage: { duplicate: boolean; credits: { burned: number } } }>(COMMIT, {
      input: { accountId: account, reservationId: id, inputTokens: 1000, outputTokens: 0 },
    });
    expect(real.data?.commitUsage).toEqual({
      duplicate: false,
      credits: { credits: 3, burned: 3, uncovered: 0, billed: 0 },
    });
    expect((await balanceOf(user)).credits).toBe(before.credits - 3);
  });

  it('still lets a user commit and release its own reservations, and the gateway settle them', async () => {
    const account = 'acct_hostile_own_calls';
    const user = await stack.as(account);
    const gateway = await stack.as('svc_hostile_gateway', ['service']);
    const before = await balanceOf(user);
    const mine = await user<Reserved>(RESERVE, { input: call({ idempotencyKey: 'request-42' }) });
    const again = await user<Reserved>(RESERVE, { input: call({ idempotencyKey: 'request-42' }) });
    expect(again.data?.reserveUsage).toEqual({ ...mine.data?.reserveUsage, duplicate: true });
    const input = { reservationId: mine.data?.reserveUsage.id, inputTokens: 1000, outputTokens: 0 };
    expect((await user(COMMIT, { input })).errors).toBeUndefined();
    const released = await user<Reserved>(RESERVE, { input: call() });
    expect((await user(RELEASE, { input: { reservationId: released.data?.reserveUsage.id } })).data).toEqual({
      releaseUsage: true,
    });
    const settledByGateway = await user<Reserved>(RESERVE, { input: call() });
    const byGateway = await gateway(COMMIT, {
      input: {
        accountId: account,
        reservationId: settledByGateway.data?.reserveUsage.id,
        inputTokens: 1000,
        outputTokens: 0,
      },
    });
    expect(byGateway.errors).toBeUndefined();
    expect(await balanceOf(user)).toEqual({
      credits: before.credits - 6,
      held: 0,
      available: before.credits - 6,
    });
  });
});

describe('reading and setting what is another account’s', () => {
  it('pages only the caller’s own ledger, whatever cursor it forges', async () => {
    const victim = 'acct_hostile_ledger_victim';
    await grant(victim, 777);
    const victimGql = await stack.as(victim);
    const ledger = `query($after: String, $first: Int) { viewer { creditLedger(first: $first, after: $after) {
      nodes { id credits reason } pageInfo { endCursor } } } }`;
    type Page = { viewer: { creditLedger: { nodes: Array<{ id: string; credits: number }> } } };
    const victimPage = await victimGql<Page>(ledger);
    const victimIds = victimPage.data?.viewer.creditLedger.nodes.map((node) => node.id) ?? [];
    expect(victimIds.length).toBeGreaterThan(0);

    const attacker = await stack.as('acct_hostile_ledger_attacker');
    await balanceOf(attacker);
    const past = (entry: unknown) => Buffer.from(JSON.stringify({ entry })).toString('base64url');
    const forged = await attacker<Page>(ledger, { after: past(Number(victimIds[0]) + 1_000), first: 100 });
    expect(forged.errors).toBeUndefined();
    for (const node of forged.data?.viewer.creditLedger.nodes ?? []) expect(victimIds).not.toContain(node.id);
    for (const bad of [past(-1), past(1.5), past('1'), past(2 ** 60), 'a'.repeat(5000)]) {
      expect(codeOf(await attacker(ledger, { after: bad }))).toBe('BAD_USER_INPUT');
    }
    for (const first of [0, -1, 101])
      expect(codeOf(await attacker(ledger, { first }))).toBe('BAD_USER_INPUT');
  });

  it('refuses a customer who sets another account’s member or spend limit (FORBIDDEN), writing nothing', async () => {
    const victim = await stack.as('acct_hostile_limits_victim');
    const attacker = await stack.as('acct_hostile_limits_attacker');
    const member = await attacker(
      'mutation { setMemberLimit(input: { accountId: "acct_hostile_limits_victim", memberId: "boss", monthlyCredits: 0 }) { memberId } }',
    );
    expect(codeOf(member)).toBe('FORBIDDEN');
    const spend = await attacker(
      'mutation { setSpendLimit(input: { accountId: "acct_hostile_limits_victim", monthlyCents: 0 }) { monthlyCents } }',
    );
    expect(codeOf(spend)).toBe('FORBIDDEN');
    const seen = await victim<{
      viewer: { memberUsage: { nodes: unknown[] }; spendLimit: { monthlyCents: null } };
    }>('{ viewer { memberUsage { nodes { memberId } } spendLimit { monthlyCents } } }');
    expect(seen.data?.viewer).toEqual({ memberUsage: { nodes: [] }, spendLimit: { monthlyCents: null } });
  });

  it.each([
    ['a negative limit', { monthlyCents: -1 }],
    ['a fraction of a cent', { monthlyCents: 0.5 }],
    ['no limit given', {}],
    ['a limit past 10^9', { monthlyCents: 1_000_000_001 }],
  ])('refuses setSpendLimit with %s (BAD_USER_INPUT), writing nothing', async (_name, input) => {
    const gql = await stack.as('acct_hostile_spend_input');
    const answer = await gql(
      'mutation($input: SetSpendLimitInput!) { setSpendLimit(input: $input) { monthlyCents } }',
      {
        input,
      },
    );
    expect(codeOf(answer)).toBe('BAD_USER_INPUT');
    const after = await gql<{ viewer: { spendLimit: { monthlyCents: number | null } } }>(
      '{ viewer { spendLimit { monthlyCents } } }',
    );
    expect(after.data?.viewer.spendLimit.monthlyCents).toBeNull();
  });

  it.each([
    ['a member id with a leading space', { memberId: ' bob', monthlyCredits: 10 }],
    ['a member id of 129 characters', { memberId: 'b'.repeat(129), monthlyCredits: 10 }],
    ['a member id outside ASCII', { memberId: 'bób', monthlyCredits: 10 }],
    ['a negative limit', { memberId: 'bob', monthlyCredits: -1 }],
    ['a fractional limit', { memberId: 'bob', monthlyCredits: 1.5 }],
  ])('refuses setMemberLimit with %s (BAD_USER_INPUT), writing nothing', async (_name, input) => {
    const gql = await stack.as('acct_hostile_member_input');
    const answer = await gql(
      'mutation($input: SetMemberLimitInput!) { setMemberLimit(input: $input) { memberId } }',
      {
        input,
      },
    );
    expect(codeOf(answer)).toBe('BAD_USER_INPUT');
    const after = await gql<{ viewer: { memberUsage: { nodes: unknown[] } } }>(
      '{ viewer { memberUsage { nodes { memberId } } } }',
    );
    expect(after.data?.viewer.memberUsage.nodes).toEqual([]);
  });
});

describe('buying credits', () => {
  const CHECKOUT = `mutation($input: CreateCreditCheckoutSessionInput!) {
    createCreditCheckoutSession(input: $input) { sessionId url } }`;
  const PURCHASE = `mutation($input: PurchaseCreditsInput!) { purchaseCredits(input: $input) {
    status invoiceId balance { credits } } }`;

  it.each([
    ['another origin', 'https://evil.example/ok'],
    ['a look-alike host', 'http://localhost:3000.evil.example/ok'],
    ['credentials before the host', 'http://localhost:3000@evil.example/ok'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a protocol-relative URL', '//evil.example/ok'],
  ])('refuses a success URL on %s (BAD_USER_INPUT) and makes no session', async (_name, successUrl) => {
    const gql = await stack.as('acct_hostile_checkout');
    const answer = await gql(CHECKOUT, {
      input: { packKey: 'credits_10k', successUrl, cancelUrl: `${ALLOWED}/no` },
    });
    expect(codeOf(answer)).toBe('BAD_USER_INPUT');
  });

  it('refuses an unknown pack (BAD_USER_INPUT)', async () => {
    const gql = await stack.as('acct_hostile_checkout');
    const answer = await gql(CHECKOUT, {
      input: { packKey: 'credits_free', successUrl: `${ALLOWED}/ok`, cancelUrl: `${ALLOWED}/no` },
    });
    expect(codeOf(answer)).toBe('BAD_USER_INPUT');
    const bought = await gql(PURCHASE, { input: { packKey: 'credits_free' } });
    expect(codeOf(bought)).toBe('BAD_USER_INPUT');
  });

  it('charges and grants once when the same purchase is sent five times at once', async () => {
    const account = 'acct_hostile_double_buy';
    const customer = await customerWithCard(stack, account, 'pm_card_visa');
    const gql = await stack.as(account);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        gql<{ purchaseCredits: { invoiceId: string } }>(PURCHASE, {
          input: { packKey: 'credits_10k', idempotencyKey: 'buy-once' },
        }),
      ),
    );
    expect(answers.map((answer) => answer.errors)).toEqual(Array(5).fill(undefined));
    expect(new Set(answers.map((answer) => answer.data?.purchaseCredits.invoiceId)).size).toBe(1);
    await stack.flushWebhooks();
    const invoices = await stack.stripe.invoices.list({ customer });
    expect(invoices.data.filter((invoice) => invoice.status === 'paid').length).toBe(1);
    const lots = await stack.app.orm.em
      .fork()
      .getConnection()
      .execute("select count(*)::int as n from credit_lot where account_id = ? and kind = 'purchase'", [
        account,
      ]);
    expect(lots[0].n).toBe(1);
  });

  it('refuses the same idempotency key for another pack, charging nothing more', async () => {
    const account = 'acct_hostile_key_reuse';
    const customer = await customerWithCard(stack, account, 'pm_card_visa');
    const gql = await stack.as(account);
    const first = await gql(PURCHASE, { input: { packKey: 'credits_10k', idempotencyKey: 'reused' } });
    expect(first.errors).toBeUndefined();
    const second = await gql(PURCHASE, { input: { packKey: 'credits_200k', idempotencyKey: 'reused' } });
    expect(second.errors?.[0]?.extensions).toMatchObject({
      code: 'CONFLICT',
      reason: 'IDEMPOTENCY_KEY_REUSED',
      field: 'idempotencyKey',
    });
    await stack.flushWebhooks();
    const invoices = await stack.stripe.invoices.list({ customer });
    expect(
      invoices.data.filter((invoice) => invoice.status === 'paid').map((invoice) => invoice.amount_paid),
    ).toEqual([1000]);
  });
});

describe('automatic top-up input', () => {
  it.each([
    ['a threshold of 0', { enabled: true, belowCredits: 0, packKey: 'credits_10k' }],
    ['a negative threshold', { enabled: true, belowCredits: -5, packKey: 'credits_10k' }],
    ['an unknown pack', { enabled: true, belowCredits: 100, packKey: 'credits_free' }],
  ])('refuses %s (BAD_USER_INPUT)', async (_name, input) => {
    const gql = await stack.as('acct_hostile_top_up');
    const answer = await gql(
      'mutation($input: SetAutoTopUpInput!) { setAutoTopUp(input: $input) { enabled } }',
      {
        input,
      },
    );
    expect(codeOf(answer)).toBe('BAD_USER_INPUT');
    const after = await gql<{ viewer: { autoTopUp: unknown } }>('{ viewer { autoTopUp { enabled } } }');
    expect(after.data?.viewer.autoTopUp).toBeNull();
  });
});

describe('granting credits', () => {
  it.each([
    ['past 2^53', { credits: 2 ** 53 + 2 }],
    ['an empty account id', { accountId: '' }],
    ['an account id with a space at its end', { accountId: 'acct_hostile_grant ' }],
    ['an account id with a line break', { accountId: 'acct_hostile\ngrant' }],
    ['an empty idempotency key', { idempotencyKey: '' }],
    ['an expiry that is not a date', { expiresAt: 'tomorrow' }],
  ])('refuses a grant %s (BAD_USER_INPUT)', async (_name, extra) => {
    const answer = await admin(
      'mutation($input: GrantCreditsInput!) { grantCredits(input: $input) { duplicate } }',
      {
        input: {
          accountId: 'acct_hostile_grant',
          credits: 10,
          reason: 'r',
          idempotencyKey: randomUUID(),
          ...extra,
        },
      },
    );
    expect(codeOf(answer)).toBe('BAD_USER_INPUT');
    const ledger = stack.app.services.credits.ledger;
    expect(
      (await ledger.balanceOf('accountId' in extra ? extra.accountId : 'acct_hostile_grant')).balance,
    ).toBe(0);
  });
});
