import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { BadUserInputError, ErrorCode, MemberLimitReachedError } from '../../src/errors';
import { MemberLimits } from '../../src/services/credits/member-limits';
import { type LedgerHarness, openLedger } from '../support/credit-ledger';

/**
 * Members' monthly credit limits (issue 17, item 4; docs/credits.md "Members' limits") against real PostgreSQL:
 * the ledger's hold refuses a member past the limit while the account still has credits, other members and
 * other accounts go on, a settle counts what the work used, the month turning starts again from 0, a removed
 * limit leaves the balance as the only one, and concurrent holds of one member never pass the limit.
 */

let harness: LedgerHarness;
let limits: MemberLimits;
let accountSequence = 0;
let account: string;

beforeAll(async () => {
  // 20 December: the month turns in a test below by moving the clock.
  harness = await openLedger(new Date('2026-12-20T10:00:00Z'));
  limits = new MemberLimits(harness.orm, harness.clock);
});
afterAll(async () => {
  await harness.close();
});
beforeEach(() => {
  account = `acct_members_${++accountSequence}`;
});
afterEach(async () => {
  // The member work never bends the ledger's own invariants.
  const sums = await harness.sums(account);
  expect(sums.entries).toBe(sums.balance);
  expect(sums.lots).toBe(sums.balance);
  expect(sums.liveHolds).toBe(sums.held);
});

async function fund(credits: number, accountId = account): Promise<void> {
  await harness.ledger.grant({
    accountId,
    kind: 'purchase',
    credits,
    expiresAt: null,
    reason: 'pack',
    source: { type: 'test', id: randomUUID() },
    actor: 'test',
  });
}

function setLimit(memberId: string, monthlyCredits: number | null, accountId = account) {
  return limits.set({ accountId, memberId, monthlyCredits, actor: 'customer:test' });
}

function hold(memberId: string | null, credits: number, accountId = account, holdId = randomUUID()) {
  return harness.ledger.hold({ accountId, memberId, credits, ttlSeconds: 600, holdId });
}

/** A hold's refusal by the member's limit, as the caller sees it (or a failure of the test when it passed). */
async function refusal(attempt: Promise<unknown>): Promise<Record<string, unknown>> {
  const error = await attempt.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(MemberLimitReachedError);
  return (error as MemberLimitReachedError).extensions;
}

async function holdCount(accountId = account): Promise<number> {
  const [row] = await harness.orm.em
    .getConnection()
    .execute<Array<{ count: string }>>('select count(*) as count from credit_hold where account_id = ?', [
      accountId,
    ]);
  return Number(row?.count);
}

describe('a member with a limit', () => {
  it('is refused past the limit while the account still has credits, and nothing is written', async () => {
    await fund(1000);
    await setLimit('alice', 100);
    expect(await hold('alice', 60)).toMatchObject({ ok: true });

    const holdsBefore = await holdCount();
    expect(await refusal(hold('alice', 50))).toEqual({
      code: ErrorCode.MEMBER_LIMIT_REACHED,
      memberId: 'alice',
      limit: 100,
      used: 0,
      held: 60,
      requested: 50,
    });
    expect(await holdCount()).toBe(holdsBefore);
    // The account has plenty left: the member's limit, not the balance, said no.
    expect(await harness.ledger.balanceOf(account)).toMatchObject({
      balance: 1000,
      held: 60,
      available: 940,
    });
    // Exactly up to the limit passes.
    expect(await hold('alice', 40)).toMatchObject({ ok: true });
    expect(await limits.usageOf(account, 'alice')).toMatchObject({
      monthlyCredits: 100,
      used: 0,
      held: 100,
      remaining: 0,
    });
  });

  it('leaves the account’s other members, work without a member and other accounts unaffected', async () => {
    const other = `${account}_other`;
    await fund(1000);
    await fund(1000, other);
    await setLimit('alice', 10);
    await refusal(hold('alice', 11));
    expect(await hold('bob', 500)).toMatchObject({ ok: true });
    expect(await hold(null, 400)).toMatchObject({ ok: true });
    // The same member id in another account is another member, without a limit there.
    expect(await hold('alice', 900, other)).toMatchObject({ ok: true });
    // Bob is limited by the balance only: 1000 - 500 - 400 leaves 100.
    expect(await hold('bob', 101)).toMatchObject({
      ok: false,
      reason: 'insufficient_credits',
      available: 100,
    });
  });

  it('answers a hold placed before again, even when the member is at the limit now', async () => {
    await fund(100);
    await setLimit('carol', 50);
    const holdId = randomUUID();
    const first = await hold('carol', 50, account, holdId);
    expect(first).toMatchObject({ ok: true, duplicate: false });
    expect(await hold('carol', 50, account, holdId)).toMatchObject({ ok: true, duplicate: true });
    await refusal(hold('carol', 1));
  });

  it('counts what settled work used, frees what a release gives back, and counts an overrun past the limit', async () => {
    await fund(1000);
    await setLimit('dave', 100);
    const first = randomUUID();
    await hold('dave', 50, account, first);
    expect(await harness.ledger.settle({ accountId: account, holdId: first, credits: 30 })).toMatchObject({
      outcome: 'settled',
      burned: 30,
    });
    // A second settle of the same hold counts nothing more.
    await harness.ledger.settle({ accountId: account, holdId: first, credits: 30 });
    expect(await limits.usageOf(account, 'dave')).toMatchObject({ used: 30, held: 0, remaining: 70 });

    const released = randomUUID();
    await hold('dave', 70, account, released);
    await refusal(hold('dave', 1));
    expect(await harness.ledger.releaseHold(account, released)).toBe(true);
    expect(await limits.usageOf(account, 'dave')).toMatchObject({ used: 30, held: 0, remaining: 70 });

    // The work used more than it held: all of it counts, past the limit (docs/credits.md says why).
    const overrun = randomUUID();
    await hold('dave', 60, account, overrun);
    await harness.ledger.settle({ accountId: account, holdId: overrun, credits: 90 });
    expect(await limits.usageOf(account, 'dave')).toMatchObject({ used: 120, held: 0, remaining: 0 });
    expect(await refusal(hold('dave', 0))).toMatchObject({ used: 120, held: 0, requested: 0, limit: 100 });
  });

  it('starts again from 0 when the month turns (UTC); work still held from the last month still counts', async () => {
    await fund(10_000);
    await setLimit('erin', 100);
    const spent = randomUUID();
    await hold('erin', 100, account, spent);
    await harness.ledger.settle({ accountId: account, holdId: spent, credits: 80 });
    await refusal(hold('erin', 21));

    // 31 December 23:59:00 UTC: a hold of 20 for ten minutes, across midnight.
    harness.clock.advance(Date.parse('2026-12-31T23:59:00Z') - harness.clock.now().getTime());
    await hold('erin', 20, account);
    harness.clock.advance(60_000);
    expect(harness.clock.now().toISOString()).toBe('2027-01-01T00:00:00.000Z');
    const january = await limits.usageOf(account, 'erin');
    expect(january).toMatchObject({ used: 0, held: 20, remaining: 80 });
    expect(january.periodStart.toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(january.periodEnd.toISOString()).toBe('2027-02-01T00:00:00.000Z');
    await refusal(hold('erin', 81));
    expect(await hold('erin', 80)).toMatchObject({ ok: true });
  });

  it('is limited by the balance only once the limit is removed', async () => {
    await fund(500);
    await setLimit('frank', 10);
    await refusal(hold('frank', 11));
    const removed = await setLimit('frank', null);
    expect(removed).toMatchObject({ memberId: 'frank', monthlyCredits: null, remaining: null });
    expect(await hold('frank', 400)).toMatchObject({ ok: true });
    expect(await hold('frank', 101)).toMatchObject({ ok: false, reason: 'insufficient_credits' });
    // Setting it again, lower than what is held already: nothing more starts, what is held stays.
    expect(await setLimit('frank', 300)).toMatchObject({ monthlyCredits: 300, held: 400, remaining: 0 });
    await refusal(hold('frank', 1));
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ held: 400 });
  });

  it('refuses a member id or a limit it cannot keep, writing nothing', async () => {
    await fund(100);
    for (const memberId of ['', ' alice', 'alice ', 'a'.repeat(129), 'tab\there', 'naïve'])
      await expect(setLimit(memberId, 10)).rejects.toBeInstanceOf(BadUserInputError);
    for (const monthlyCredits of [-1, 1.5, Number.NaN])
      await expect(setLimit('grace', monthlyCredits)).rejects.toBeInstanceOf(BadUserInputError);
    await expect(hold('bad\nmember', 1)).rejects.toBeInstanceOf(BadUserInputError);
    expect(await holdCount()).toBe(0);
    expect((await limits.page(account, 10, null)).members).toEqual([]);
  });
});

describe('per-member usage', () => {
  it('lists members with a limit, use this month or work in progress, by member id, a page at a time', async () => {
    await fund(1000);
    await setLimit('zoe', 50);
    const settled = randomUUID();
    await hold('mia', 40, account, settled);
    await harness.ledger.settle({ accountId: account, holdId: settled, credits: 25 });
    await hold('ann', 10);
    await hold(null, 5);

    const first = await limits.page(account, 2, null);
    expect(first.hasNextPage).toBe(true);
    expect(
      first.members.map(({ memberId, monthlyCredits, used, held, remaining }) => ({
        memberId,
        monthlyCredits,
        used,
        held,
        remaining,
      })),
    ).toEqual([
      { memberId: 'ann', monthlyCredits: null, used: 0, held: 10, remaining: null },
      { memberId: 'mia', monthlyCredits: null, used: 25, held: 0, remaining: null },
    ]);
    const second = await limits.page(account, 2, 'mia');
    expect(second).toMatchObject({
      hasNextPage: false,
      members: [{ memberId: 'zoe', monthlyCredits: 50, used: 0, held: 0, remaining: 50 }],
    });
  });
});

describe('concurrent holds of one member', () => {
  it('never pass the limit, and each refused hold really did not fit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 300 }),
        fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 12 }),
        async (limit, sizes) => {
          account = `acct_members_${++accountSequence}`;
          await fund(100_000);
          await setLimit('racer', limit);
          const outcomes = await Promise.all(
            sizes.map((credits) =>
              hold('racer', credits).then(
                () => ({ credits, held: true }),
                (error: unknown) => {
                  if (!(error instanceof MemberLimitReachedError)) throw error;
                  return { credits, held: false };
                },
              ),
            ),
          );
          const heldTotal = outcomes.filter((outcome) => outcome.held).reduce((sum, o) => sum + o.credits, 0);
          expect(heldTotal).toBeLessThanOrEqual(limit);
          // Holds only grow within a round: a hold refused then would not have fitted at the end either (a hold
          // of 0 counts as 1: a member at the limit starts nothing, billing-rules row 105).
          for (const outcome of outcomes.filter((candidate) => !candidate.held))
            expect(Math.max(outcome.credits, 1)).toBeGreaterThan(limit - heldTotal);
          expect(await limits.usageOf(account, 'racer')).toMatchObject({ used: 0, held: heldTotal });
        },
      ),
      { numRuns: 40 },
    );
  }, 90_000);

  it('with settles and releases running beside the holds, used + held never passes the limit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 200 }),
        fc.array(
          fc.record({
            credits: fc.integer({ min: 1, max: 80 }),
            ends: fc.constantFrom('settle', 'settle less', 'release'),
          }),
          { minLength: 1, maxLength: 10 },
        ),
        async (limit, works) => {
          account = `acct_members_${++accountSequence}`;
          await fund(100_000);
          await setLimit('racer', limit);
          const settledCredits = await Promise.all(
            works.map(async ({ credits, ends }) => {
              const holdId = randomUUID();
              const placed = await hold('racer', credits, account, holdId).catch((error: unknown) => {
                if (!(error instanceof MemberLimitReachedError)) throw error;
                return null;
              });
              if (!placed) return 0;
              if (ends === 'release') {
                await harness.ledger.releaseHold(account, holdId);
                return 0;
              }
              // Settling what was held, or less: the member never passes the limit.
              const used = ends === 'settle' ? credits : Math.ceil(credits / 2);
              await harness.ledger.settle({ accountId: account, holdId, credits: used });
              return used;
            }),
          );
          const usage = await limits.usageOf(account, 'racer');
          const totalSettled = settledCredits.reduce((sum, credits) => sum + credits, 0);
          expect(usage).toMatchObject({ used: totalSettled, held: 0 });
          expect(usage.used + usage.held).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: 30 },
    );
  }, 90_000);
});
