import { randomUUID } from 'node:crypto';
import { ErrorCode, NotFoundError } from '../../src/errors';
import { silentLogger } from '../../src/logging/logger';
import { type BalanceUpdatedPayload, Topic } from '../../src/pubsub/topics';
import { CreditEvents } from '../../src/services/credits/credit-events';
import { laneOf } from '../../src/services/credits/credit-groups';
import { CreditLedger } from '../../src/services/credits/credit-ledger';
import type { OverageTerms, SpendWatcher } from '../../src/services/credits/credit-overage';
import { type LedgerHarness, type LedgerSums, grantForTest, openLedger } from '../support/credit-ledger';

/**
 * Credit holds and settles as group commits (ADR 0028) against real PostgreSQL: many concurrent requests on a few
 * accounts, some refused or failing on purpose, each answered with its own outcome as if it had run alone; the
 * ledger's invariants hold; the groups really formed (the committer's count, one publish per account per group).
 */

let harness: LedgerHarness;
let ledger: CreditLedger;
/** Accounts whose spend watcher throws: a request that fails after it wrote (the overage it billed). */
const failingWatcher = new Set<string>();
const watcher: SpendWatcher = {
  async afterSpend(account) {
    if (failingWatcher.has(account.accountId)) throw new Error(`watcher of ${account.accountId} failed`);
  },
};

beforeAll(async () => {
  harness = await openLedger();
  ledger = new CreditLedger(
    harness.orm,
    harness.clock,
    new CreditEvents(harness.pubSub, silentLogger),
    watcher,
  );
});

afterAll(async () => {
  await harness.close();
});

function grant(accountId: string, credits: number) {
  return grantForTest(ledger, accountId, credits);
}

/** A BillingError's `extensions.code`. */
function codeOf(error: unknown): string | undefined {
  return (error as { extensions?: { code?: string } }).extensions?.code;
}

function expectInvariants(sums: LedgerSums): void {
  expect(sums.entries).toBe(sums.balance);
  expect(sums.lots).toBe(sums.balance);
  expect(sums.liveHolds).toBe(sums.held);
  expect(sums.liveOverage).toBe(sums.overageHeld);
  expect(sums.overageSpent).toBe(sums.billed);
  expect(sums.overageCounted).toBe(sums.billed);
}

/** Every `balanceUpdated` of the accounts while `during` runs, by account. */
async function published(accounts: string[], during: () => Promise<void>): Promise<Map<string, number>> {
  const counts = new Map(accounts.map((account) => [account, 0]));
  const iterators = accounts.map((account) =>
    harness.pubSub.subscribe(Topic.BALANCE_UPDATED, account)[Symbol.asyncIterator](),
  );
  let open = true;
  const listening = iterators.map(async (iterator) => {
    while (open) {
      const next = await iterator.next();
      if (next.done) return;
      const { accountId } = next.value as BalanceUpdatedPayload;
      counts.set(accountId, (counts.get(accountId) ?? 0) + 1);
    }
  });
  await during();
  await new Promise((resolve) => setTimeout(resolve, 50));
  open = false;
  await Promise.all(iterators.map((iterator) => iterator.return?.()));
  await Promise.all(listening);
  return counts;
}

it('answers each of many concurrent holds and settles on a few accounts with its own outcome, in shared transactions', async () => {
  const accounts = ['acct_group_a', 'acct_group_b', 'acct_group_c', 'acct_group_d'];
  for (const account of accounts) await grant(account, 100);
  const now = harness.clock.now();
  await harness.orm.em.getConnection().execute(
    `insert into credit_member_limit (account_id, member_id, monthly_credits, updated_at, updated_by)
       values (?, 'limited', 25, ?, 'test')`,
    ['acct_group_a', now],
  );
  const taken = randomUUID();
  expect(
    (await ledger.hold({ accountId: 'acct_group_d', credits: 0, ttlSeconds: 60, holdId: taken })).ok,
  ).toBe(true);
  const before = ledger.groupStats();

  // Each account: 12 holds of 10 (10 fit, 2 are refused), account a's member 4 of them against a limit of 25
  // (2 fit: each hold sees the ones before it in its group), a settle of an unknown hold, a hold with an id of
  // another account (refused, thrown before it writes).
  const holds = accounts.flatMap((accountId) =>
    Array.from({ length: 12 }, (_, index) => ({
      accountId,
      credits: 10,
      ttlSeconds: 300,
      holdId: randomUUID(),
      memberId: accountId === 'acct_group_a' && index < 4 ? 'limited' : null,
    })),
  );
  const settled = await published(accounts, async () => {
    const answers = await Promise.allSettled([
      ...holds.map((input) => ledger.hold(input)),
      ...accounts.map((accountId) => ledger.settle({ accountId, holdId: randomUUID(), credits: 5 })),
      ledger.hold({ accountId: 'acct_group_b', credits: 1, ttlSeconds: 60, holdId: taken }),
    ]);
    const outcomes = answers.map((answer) =>
      answer.status === 'fulfilled'
        ? 'ok' in answer.value
          ? answer.value.ok
            ? 'held'
            : answer.value.reason
          : answer.value.outcome
        : (codeOf(answer.reason) ?? 'error'),
    );
    const count = (outcome: string) => outcomes.filter((each) => each === outcome).length;
    // a: 2 member holds fit and 2 are refused; 8 more holds of 10 fit of the 100 (2 refused). b, c, d: 10 and 2.
    expect(count(ErrorCode.MEMBER_LIMIT_REACHED)).toBe(2);
    expect(count('held')).toBe(40);
    expect(count('insufficient_credits')).toBe(6);
    expect(count('unknown')).toBe(4);
    expect(count(ErrorCode.CONFLICT)).toBe(1);
  });
  const after = ledger.groupStats();
  const groups = after.groups - before.groups;
  expect(after.requests - before.requests).toBe(holds.length + accounts.length + 1);
  // Grouping happened: far fewer transactions than requests, and at most one publish per account per group.
  expect(groups).toBeLessThan((holds.length + accounts.length + 1) / 4);
  expect(after.rerun).toBe(before.rerun);
  for (const account of accounts) expect(settled.get(account)).toBeLessThanOrEqual(groups);
  for (const account of accounts) {
    const sums = await harness.sums(account);
    expectInvariants(sums);
    expect(sums).toMatchObject({ balance: 100, held: 100 });
  }
});

it('settles and releases concurrently, each once; a settle priced as unknown fails alone', async () => {
  const accounts = ['acct_settle_a', 'acct_settle_b', 'acct_settle_c'];
  const held: Array<{ accountId: string; holdId: string }> = [];
  for (const accountId of accounts) {
    await grant(accountId, 100);
    for (let index = 0; index < 8; index++) {
      const holdId = randomUUID();
      await ledger.hold({ accountId, credits: 10, ttlSeconds: 300, holdId });
      held.push({ accountId, holdId });
    }
  }
  const before = ledger.groupStats();
  // Per account: 5 settles of 12 (more than held: 60 burned of what is available), each settled twice at once
  // (the second answers the first), 2 releases, 1 settle whose pricing throws (the hold stays live).
  const work = held.flatMap(({ accountId, holdId }, index) => {
    const slot = index % 8;
    if (slot < 5)
      return [0, 1].map(() =>
        ledger
          .settle({ accountId, holdId, credits: 12 })
          .then((result) => (result.outcome === 'settled' && result.duplicate ? 'again' : result.outcome)),
      );
    if (slot < 7) return [ledger.releaseHold(accountId, holdId).then((released) => `released ${released}`)];
    return [
      ledger
        .settlePriced({
          accountId,
          holdId,
          price: () => {
            throw new NotFoundError('The reservation');
          },
        })
        .then(
          () => 'settled?',
          (error: unknown) => codeOf(error),
        ),
    ];
  });
  const outcomes = await Promise.all(work);
  expect(outcomes.filter((outcome) => outcome === 'settled')).toHaveLength(15);
  expect(outcomes.filter((outcome) => outcome === 'again')).toHaveLength(15);
  expect(outcomes.filter((outcome) => outcome === 'released true')).toHaveLength(6);
  expect(outcomes.filter((outcome) => outcome === ErrorCode.NOT_FOUND)).toHaveLength(3);
  expect(ledger.groupStats().groups - before.groups).toBeLessThan(outcomes.length / 4);
  expect(ledger.groupStats().rerun).toBe(before.rerun);
  for (const accountId of accounts) {
    const sums = await harness.sums(accountId);
    expectInvariants(sums);
    // 5 settles of 12 burned once each; the pricing that failed left its hold of 10 live.
    expect(sums).toMatchObject({ balance: 40, held: 10 });
  }
});

it('rolls back a group one of whose requests failed after writing, and runs each of its requests alone', async () => {
  const terms: OverageTerms = {
    period: { start: new Date('2026-12-01T00:00:00Z'), end: new Date('2027-01-01T00:00:00Z') },
    unitAmountDecimal: '0.5',
    currency: 'usd',
  };
  // Three accounts of one lane (a lane's groups are what share a transaction).
  const candidates = Array.from({ length: 40 }, (_, index) => `acct_fail_${index}`);
  const accounts = candidates.filter((account) => laneOf(account) === laneOf('acct_fail_0')).slice(0, 3);
  expect(accounts).toHaveLength(3);
  const [first, failing, last] = accounts as [string, string, string];
  failingWatcher.add(failing);
  const holdIds = new Map<string, string>();
  for (const accountId of accounts) {
    const holdId = randomUUID();
    await ledger.hold({ accountId, credits: 0, ttlSeconds: 300, holdId });
    holdIds.set(accountId, holdId);
  }
  // Nothing available: each settle bills its 5 credits as overage; b's watcher throws after that write.
  const before = ledger.groupStats();
  const answers = await Promise.allSettled(
    accounts.map((accountId) =>
      ledger.settle({ accountId, holdId: holdIds.get(accountId) as string, credits: 5, overage: terms }),
    ),
  );
  expect(answers.map((answer) => answer.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  // The first went alone (its lane was idle); the other two shared a group, rolled back and run again alone.
  expect(ledger.groupStats().rerun - before.rerun).toBe(2);
  expect(answers[0]).toMatchObject({ value: { outcome: 'settled', burned: 0, uncovered: 5, billed: 5 } });
  for (const accountId of accounts) expectInvariants(await harness.sums(accountId));
  expect(await harness.sums(failing)).toMatchObject({ billed: 0, overageSpent: 0, overageCounted: 0 });
  expect(await ledger.findHold(failing, holdIds.get(failing) as string)).toMatchObject({
    state: 'held',
  });
  expect(await harness.sums(first)).toMatchObject({ billed: 5, overageSpent: 5 });
  expect(await harness.sums(last)).toMatchObject({ billed: 5, overageSpent: 5 });
  failingWatcher.clear();
});

it('reads its requests’ holds and members ahead in one statement, and answers as if each had read them itself (ADR 0029)', async () => {
  const [mine, other] = ['acct_ahead_a', 'acct_ahead_b'];
  await grant(mine, 100);
  await grant(other, 100);
  await harness.orm.em.getConnection().execute(
    `insert into credit_member_limit (account_id, member_id, monthly_credits, updated_at, updated_by)
       values (?, 'capped', 15, now(), 'test')`,
    [mine],
  );
  const released = randomUUID();
  const othersHold = randomUUID();
  await ledger.hold({ accountId: mine, credits: 10, ttlSeconds: 300, holdId: released });
  await ledger.hold({ accountId: other, credits: 10, ttlSeconds: 300, holdId: othersHold });
  const retried = randomUUID();
  const before = ledger.groupStats();
  // All at once, behind a first request that takes the lane alone, so the rest share a group: each must see what
  // the requests before it in its group wrote.
  const [, first, again, release, afterRelease, foreign, capped, cappedOver, free] = await Promise.all([
    ledger.hold({ accountId: mine, credits: 1, ttlSeconds: 300, holdId: randomUUID() }),
    ledger.hold({ accountId: mine, credits: 5, ttlSeconds: 300, holdId: retried }),
    ledger.hold({ accountId: mine, credits: 5, ttlSeconds: 300, holdId: retried }),
    ledger.releaseHold(mine, released),
    ledger.settle({ accountId: mine, holdId: released, credits: 3 }),
    ledger.settle({ accountId: mine, holdId: othersHold, credits: 3 }),
    ledger.hold({ accountId: mine, credits: 10, ttlSeconds: 300, holdId: randomUUID(), memberId: 'capped' }),
    ledger
      .hold({ accountId: mine, credits: 10, ttlSeconds: 300, holdId: randomUUID(), memberId: 'capped' })
      .then(
        () => 'held',
        (error: unknown) => codeOf(error),
      ),
    ledger.hold({ accountId: mine, credits: 40, ttlSeconds: 300, holdId: randomUUID(), memberId: 'free' }),
  ]);
  expect(ledger.groupStats().groups - before.groups).toBeLessThan(5);
  expect(ledger.groupStats().rerun).toBe(before.rerun);
  expect(first).toMatchObject({ ok: true, duplicate: false });
  expect(again).toMatchObject({ ok: true, duplicate: true });
  expect(release).toBe(true);
  expect(afterRelease).toEqual({ outcome: 'released' });
  expect(foreign).toEqual({ outcome: 'unknown' });
  expect(capped).toMatchObject({ ok: true });
  expect(cappedOver).toBe(ErrorCode.MEMBER_LIMIT_REACHED);
  expect(free).toMatchObject({ ok: true });
  const sums = await harness.sums(mine);
  expectInvariants(sums);
  expect(sums).toMatchObject({ balance: 100, held: 56 });
  expect((await harness.sums(other)).held).toBe(10);
});

it('saves the accounts of a group in one statement: holds, settles with a member, entries and balances as saved alone (ADR 0029)', async () => {
  // Accounts of one lane, so they share groups (lanes never share an account).
  const accounts = Array.from({ length: 40 }, (_, index) => `acct_batch_${index}`)
    .filter((accountId) => laneOf(accountId) === laneOf('acct_batch_0'))
    .slice(0, 6);
  expect(accounts.length).toBeGreaterThanOrEqual(4);
  for (const accountId of accounts) await grant(accountId, 100);
  const holds = await Promise.all(
    accounts.map(async (accountId) => {
      const holdId = randomUUID();
      const held = await ledger.hold({ accountId, credits: 30, ttlSeconds: 300, holdId, memberId: 'm' });
      return { accountId, holdId, held };
    }),
  );
  const before = ledger.groupStats();
  const counts = await published(accounts, async () => {
    const settled = await Promise.all(
      holds.map(({ accountId, holdId }) => ledger.settle({ accountId, holdId, credits: 25 })),
    );
    for (const result of settled) expect(result).toMatchObject({ outcome: 'settled', burned: 25 });
  });
  expect(ledger.groupStats().groups - before.groups).toBeLessThan(accounts.length);
  expect(ledger.groupStats().rerun).toBe(before.rerun);
  for (const { held } of holds) expect(held).toMatchObject({ ok: true, duplicate: false });
  for (const accountId of accounts) {
    expect(counts.get(accountId)).toBeGreaterThanOrEqual(1);
    const sums = await harness.sums(accountId);
    expectInvariants(sums);
    expect(sums).toMatchObject({ balance: 75, held: 0 });
    const [month] = await harness.orm.em
      .getConnection()
      .execute<Array<{ burned: string }>>(
        `select burned from credit_member_period where account_id = ? and member_id = 'm'`,
        [accountId],
      );
    expect(Number(month?.burned)).toBe(25);
  }
});
