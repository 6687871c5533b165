import fc from 'fast-check';
import type { CreditRollover, PlanCredits } from '../../src/services/plans/credit.types';
import { RateCard } from '../../src/services/plans/rate-card';
import { IncludedCredits } from '../../src/services/credits/included-credits';
import { MemberLimits } from '../../src/services/credits/member-limits';
import { TokenReservations } from '../../src/services/credits/token-reservations';
import type { BillingPeriodSource } from '../../src/services/usage/usage-period';
import { type LedgerHarness, openLedger } from '../support/credit-ledger';

/**
 * Model calls paid in credits (issue 17 item 3) against real PostgreSQL: the rate card prices the estimate and the
 * actual tokens to the credit, included credits burn first, an unknown model is refused, a commit pays the rate of
 * its reservation across a rate change, release and repeats, and each usage period's included credits are granted
 * once (also when requests race at the boundary) with the plan's rollover. Every test ends with the ledger's
 * invariants: balance row = entries = lots, held = live holds.
 */

const RATE_CHANGE = new Date('2026-12-07T12:00:00Z');
const rateCard = new RateCard({
  // 3,000 input and 15,000 output credits per million tokens until the change, then 6,000 and 30,000.
  'test-sonnet': [
    {
      effectiveFrom: new Date('2026-01-01T00:00:00Z'),
      inputCreditsPerMillion: 3000,
      outputCreditsPerMillion: 15000,
    },
    { effectiveFrom: RATE_CHANGE, inputCreditsPerMillion: 6000, outputCreditsPerMillion: 30000 },
  ],
  // One price throughout: the period tests spend exact amounts with it.
  'test-flat': [
    {
      effectiveFrom: new Date('2026-01-01T00:00:00Z'),
      inputCreditsPerMillion: 1000,
      outputCreditsPerMillion: 15000,
    },
  ],
});

/** The plan and period the account is on: what `FeatureGate.allowances` answers in the service. */
class PlanStub {
  credits: PlanCredits = { included: 1000, rollover: { kind: 'none' }, overLimit: 'block' };
  billingPeriod: BillingPeriodSource | null = null;
  async allowances() {
    return { plan: { key: 'test_plan', credits: this.credits }, billingPeriod: this.billingPeriod };
  }
}

let harness: LedgerHarness;
let plans: PlanStub;
let reservations: TokenReservations;
let accountSequence = 0;
let account: string;

/** A fresh service on the shared database, so each test's "process" opens periods itself. */
function freshServices(): void {
  plans = new PlanStub();
  const included = new IncludedCredits(harness.ledger, plans, harness.clock);
  reservations = new TokenReservations(harness.ledger, rateCard, included, harness.clock);
}

beforeAll(async () => {
  harness = await openLedger(new Date('2026-12-07T10:00:00Z'));
});
afterAll(async () => {
  await harness.close();
});
beforeEach(() => {
  account = `acct_tokens_${++accountSequence}`;
  freshServices();
});
afterEach(async () => {
  const sums = await harness.sums(account);
  expect(sums.entries).toBe(sums.balance);
  expect(sums.lots).toBe(sums.balance);
  expect(sums.liveHolds).toBe(sums.held);
});

function reserve(
  inputTokens: number,
  maxOutputTokens: number,
  idempotencyKey?: string,
  model = 'test-sonnet',
) {
  return reservations.reserve({ accountId: account, model, inputTokens, maxOutputTokens, idempotencyKey });
}

async function lotsOf(accountId: string) {
  return harness.orm.em
    .getConnection()
    .execute<Array<{ kind: string; credits: string; remaining: string; expires_at: Date | null }>>(
      `select kind, credits, remaining, expires_at from credit_lot where account_id = ?
        order by created_at, case kind when 'rollover' then 0 when 'included' then 1 when 'grant' then 2 else 3 end`,
      [accountId],
    );
}

it('prices the estimate and the actual call through the rate card to the credit, once rounded up', async () => {
  // 1,200 in + 300 out: (1,200 × 3,000 + 300 × 15,000) / 1,000,000 = 8.1 → 9 credits.
  const reservation = await reserve(1200, 300);
  expect(reservation).toMatchObject({ model: 'test-sonnet', credits: 9, duplicate: false });
  expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 1000, held: 9, available: 991 });
  // The call used 1,000 in + 100 out: 3 + 1.5 = 4.5 → 5 credits burned; the rest of the hold comes back.
  const outcome = await reservations.commit({
    accountId: account,
    reservationId: reservation.id,
    inputTokens: 1000,
    outputTokens: 100,
  });
  expect(outcome).toEqual({ credits: 5, burned: 5, uncovered: 0, billed: 0, duplicate: false });
  expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 995, held: 0, available: 995 });
});

it('burns the included credits first, then the soonest to expire, then purchased ones', async () => {
  await reserve(0, 0); // opens the period: 1,000 included credits
  const now = harness.clock.now().getTime();
  const promo = await harness.ledger.grant({
    accountId: account,
    kind: 'grant',
    credits: 100,
    expiresAt: new Date(now + 3 * 86_400_000),
    reason: 'promo',
    source: { type: 'test', id: `${account}:promo` },
    actor: 'test',
  });
  await harness.ledger.grant({
    accountId: account,
    kind: 'purchase',
    credits: 500,
    expiresAt: null,
    reason: 'pack',
    source: { type: 'test', id: `${account}:pack` },
    actor: 'test',
  });
  // 1,050 credits: 70,000 output tokens × 15,000 / 1,000,000.
  const reservation = await reserve(0, 70_000);
  expect(reservation.credits).toBe(1050);
  await reservations.commit({
    accountId: account,
    reservationId: reservation.id,
    inputTokens: 0,
    outputTokens: 70_000,
  });
  const lots = await lotsOf(account);
  expect(lots.map((lot) => [lot.kind, Number(lot.remaining)])).toEqual([
    ['included', 0],
    ['grant', 50],
    ['purchase', 500],
  ]);
  expect(promo.lot.remaining).toBe(100);
});

it('refuses an unknown model (never rated 0) and a call the credits cannot cover, holding nothing', async () => {
  await expect(
    reservations.reserve({ accountId: account, model: 'gpt-unknown', inputTokens: 10, maxOutputTokens: 10 }),
  ).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
  // 1,001 credits wanted, 1,000 there.
  await expect(reserve(0, 66_734)).rejects.toMatchObject({
    extensions: { code: 'USAGE_LIMIT_EXCEEDED', available: 1000, requested: 1002, remedy: 'BUY_CREDITS' },
  });
  expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 1000, held: 0 });
});

it('commits at the rate in effect when the call was reserved, across a rate change', async () => {
  harness.clock.advance(RATE_CHANGE.getTime() - harness.clock.now().getTime() - 1000);
  const before = await reserve(1000, 1000); // 3 + 15 = 18 credits at the old rate
  expect(before.credits).toBe(18);
  harness.clock.advance(2000); // past the change
  const after = await reserve(1000, 1000); // 6 + 30 = 36 at the new rate
  expect(after.credits).toBe(36);
  const old = await reservations.commit({
    accountId: account,
    reservationId: before.id,
    inputTokens: 1000,
    outputTokens: 1000,
  });
  expect(old.credits).toBe(18);
  const fresh = await reservations.commit({
    accountId: account,
    reservationId: after.id,
    inputTokens: 1000,
    outputTokens: 1000,
  });
  expect(fresh.credits).toBe(36);
});

it('releases a hold unused, and a released reservation cannot be committed', async () => {
  const reservation = await reserve(1000, 1000);
  expect(await reservations.release(account, reservation.id)).toBe(true);
  expect(await reservations.release(account, reservation.id)).toBe(false);
  await expect(
    reservations.commit({
      accountId: account,
      reservationId: reservation.id,
      inputTokens: 1,
      outputTokens: 1,
    }),
  ).rejects.toMatchObject({ extensions: { code: 'CONFLICT' } });
  expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 1000, held: 0 });
  await expect(reservations.release('acct_someone_else', reservation.id)).rejects.toMatchObject({
    extensions: { code: 'NOT_FOUND' },
  });
});

it('refuses a commit of more output than its reservation admitted, writing nothing; the reservation stays live', async () => {
  // 1,000 included credits on a plan that blocks; 10 output tokens reserved on test-flat: 1 credit held.
  const reservation = await reserve(0, 10, undefined, 'test-flat');
  expect(reservation.credits).toBe(1);
  const commit = { accountId: account, reservationId: reservation.id, inputTokens: 0 };
  // 100,000 output tokens are 1,500 credits: 1,000 would burn and 500 go unbilled (the plan blocks), for free.
  await expect(reservations.commit({ ...commit, outputTokens: 100_000 })).rejects.toMatchObject({
    extensions: { code: 'RESERVATION_EXCEEDED', maxOutputTokens: 10, outputTokens: 100_000 },
  });
  expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 1000, held: 1 });
  // The reservation is live: the call committed as reserved settles once, for what it used.
  expect(await reservations.commit({ ...commit, outputTokens: 10 })).toMatchObject({
    credits: 1,
    burned: 1,
    uncovered: 0,
    duplicate: false,
  });
  expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 999, held: 0 });
});

it('answers a repeated reserve (same key) with the same hold and a repeated commit with the first commit', async () => {
  const [first, second] = await Promise.all([reserve(1000, 1000, 'call-1'), reserve(1000, 1000, 'call-1')]);
  expect(second.id).toBe(first.id);
  expect([first.duplicate, second.duplicate].sort()).toEqual([false, true]);
  // One hold, whatever the rate in effect (this file's clock may be past the rate change).
  expect(await harness.ledger.balanceOf(account)).toMatchObject({ held: first.credits });
  const commit = { accountId: account, reservationId: first.id, inputTokens: 2000, outputTokens: 0 };
  const [one, two] = await Promise.all([reservations.commit(commit), reservations.commit(commit)]);
  expect([one.duplicate, two.duplicate].sort()).toEqual([false, true]);
  expect(one.burned + one.uncovered).toBe(one.credits);
  expect(two.burned + two.uncovered).toBe(one.credits);
  expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 1000 - one.credits, held: 0 });
});

it('passes the member to the hold: a member at its monthly limit is refused while the account has credits', async () => {
  const limits = new MemberLimits(harness.orm, harness.clock);
  await limits.set({ accountId: account, memberId: 'dev-1', monthlyCredits: 20, actor: 'test' });
  const call = {
    accountId: account,
    model: 'test-flat',
    inputTokens: 0,
    maxOutputTokens: 1000,
    memberId: 'dev-1',
  };
  const first = await reservations.reserve(call); // 15 credits
  await reservations.commit({
    accountId: account,
    reservationId: first.id,
    inputTokens: 0,
    outputTokens: 1000,
  });
  await expect(reservations.reserve(call)).rejects.toMatchObject({
    extensions: { code: 'MEMBER_LIMIT_REACHED', memberId: 'dev-1', limit: 20, used: 15, requested: 15 },
  });
  expect(await limits.usageOf(account, 'dev-1')).toMatchObject({ used: 15, held: 0, remaining: 5 });
  // Another member of the same account goes on.
  await expect(reservations.reserve({ ...call, memberId: 'dev-2' })).resolves.toMatchObject({ credits: 15 });
});

it('never takes the balance below zero nor pays a call twice, whatever concurrent reserves, commits and releases do', async () => {
  // Each round: a new account (1,000 included credits), a burst of concurrent calls on test-flat (15 credits per
  // 1,000 output tokens), each reserved then committed (with its key, perhaps twice) or released, all at once.
  const call = fc.record({
    maxOutput: fc.integer({ min: 0, max: 40_000 }),
    used: fc.integer({ min: 0, max: 40_000 }),
    ending: fc.constantFrom('commit' as const, 'commitTwice' as const, 'release' as const),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 12 }), async (calls) => {
      account = `acct_tokens_${++accountSequence}`;
      const outcomes = await Promise.all(
        calls.map(async (planned, index) => {
          let reservation: Awaited<ReturnType<typeof reserve>>;
          try {
            reservation = await reserve(0, planned.maxOutput, `call-${index}`, 'test-flat');
          } catch (error) {
            expect(error).toMatchObject({ extensions: { code: 'USAGE_LIMIT_EXCEEDED' } });
            return 0;
          }
          if (planned.ending === 'release') {
            expect(await reservations.release(account, reservation.id)).toBe(true);
            return 0;
          }
          const commit = {
            accountId: account,
            reservationId: reservation.id,
            inputTokens: 0,
            outputTokens: planned.used,
          };
          if (planned.used > planned.maxOutput) {
            // More output than reserved is refused and writes nothing: the reservation is still there to release.
            await expect(reservations.commit(commit)).rejects.toMatchObject({
              extensions: { code: 'RESERVATION_EXCEEDED' },
            });
            expect(await reservations.release(account, reservation.id)).toBe(true);
            return 0;
          }
          const results = await Promise.all(
            planned.ending === 'commitTwice'
              ? [reservations.commit(commit), reservations.commit(commit)]
              : [reservations.commit(commit)],
          );
          expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
          const first = results.find((result) => !result.duplicate);
          expect(first?.credits).toBe(Math.ceil((planned.used * 15_000) / 1_000_000));
          return (first?.burned ?? 0) + (first?.uncovered ?? 0);
        }),
      );
      const sums = await harness.sums(account);
      expect(sums.balance).toBeGreaterThanOrEqual(0);
      expect(sums.held).toBe(0);
      expect(sums.entries).toBe(sums.balance);
      expect(sums.lots).toBe(sums.balance);
      // Every committed credit was either burned from the balance or recorded as uncovered, exactly once.
      const [row] = await harness.orm.em
        .getConnection()
        .execute<Array<{ burned: string; uncovered: string }>>(
          `select coalesce(-sum(credits), 0) as burned, coalesce(sum(uncovered), 0) as uncovered
             from credit_ledger_entry where account_id = ? and kind = 'burn'`,
          [account],
        );
      const committed = outcomes.reduce((sum, credits) => sum + credits, 0);
      expect(Number(row?.burned) + Number(row?.uncovered)).toBe(committed);
      expect(sums.balance).toBe(1000 - Number(row?.burned));
    }),
    { numRuns: 25 },
  );
});

describe('included credits per period', () => {
  const MONTH_START = new Date('2027-01-01T00:00:00Z');

  async function toNextMonth(): Promise<void> {
    const now = harness.clock.now();
    const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    harness.clock.advance(next - now.getTime());
    freshServices(); // a restarted process remembers nothing: the ledger decides
  }

  async function spend(credits: number): Promise<void> {
    // `credits` × 1,000,000 / 15,000 output tokens: exact for multiples of 3.
    const reservation = await reserve(0, (credits * 1_000_000) / 15_000, undefined, 'test-flat');
    await reservations.commit({
      accountId: account,
      reservationId: reservation.id,
      inputTokens: 0,
      outputTokens: (credits * 1_000_000) / 15_000,
    });
  }

  async function withRollover(rollover: CreditRollover): Promise<Array<[string, number, number]>> {
    plans.credits = { included: 1000, rollover, overLimit: 'block' };
    await spend(300); // 700 unused this month
    await toNextMonth();
    plans.credits = { included: 1000, rollover, overLimit: 'block' };
    await reserve(0, 0);
    const lots = await lotsOf(account);
    return lots.map((lot) => [lot.kind, Number(lot.credits), Number(lot.remaining)]);
  }

  beforeEach(() => {
    if (harness.clock.now() < MONTH_START)
      harness.clock.advance(MONTH_START.getTime() - harness.clock.now().getTime());
  });

  it('grants the period once when many requests race at its boundary', async () => {
    await Promise.all(Array.from({ length: 8 }, () => reserve(0, 0)));
    // Eight processes, each with its own memory of opened periods.
    await Promise.all(
      Array.from({ length: 8 }, () => {
        const included = new IncludedCredits(harness.ledger, plans, harness.clock);
        return included.ensure(account);
      }),
    );
    const lots = await lotsOf(account);
    expect(lots).toHaveLength(1);
    expect(lots[0]).toMatchObject({ kind: 'included', credits: '1000' });
    const periodEnd = new Date(
      Date.UTC(harness.clock.now().getUTCFullYear(), harness.clock.now().getUTCMonth() + 1, 1),
    );
    expect(new Date(lots[0]?.expires_at ?? 0).toISOString()).toBe(periodEnd.toISOString());
  });

  it('rollover none: the unused credits lapse at the period end', async () => {
    expect(await withRollover({ kind: 'none' })).toEqual([
      ['included', 1000, 0],
      ['included', 1000, 1000],
    ]);
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 1000 });
  });

  it('rollover percent: floor(unused × P / 100) carries into the next period', async () => {
    // 700 unused × 33 % = 231
    expect(await withRollover({ kind: 'percent', percent: 33 })).toEqual([
      ['included', 1000, 0],
      ['rollover', 231, 231],
      ['included', 1000, 1000],
    ]);
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 1231 });
  });

  it('rollover max: at most N of the unused credits carry over, and expire with the new period', async () => {
    expect(await withRollover({ kind: 'max', max: 500 })).toEqual([
      ['included', 1000, 0],
      ['rollover', 500, 500],
      ['included', 1000, 1000],
    ]);
    await toNextMonth();
    plans.credits = { included: 1000, rollover: { kind: 'max', max: 500 }, overLimit: 'block' };
    await reserve(0, 0); // nothing used: 1,000 included + 500 rolled over unused, at most 500 carry
    const lots = (await lotsOf(account)).map((lot) => [lot.kind, Number(lot.credits), Number(lot.remaining)]);
    expect(lots.slice(3)).toEqual([
      ['rollover', 500, 500],
      ['included', 1000, 1000],
    ]);
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 1500 });
  });

  it('follows the plan at the start of the period: a plan change inside it grants from the next period', async () => {
    await reserve(0, 0);
    plans.credits = { included: 20_000, rollover: { kind: 'none' }, overLimit: 'block' };
    freshServices();
    plans.credits = { included: 20_000, rollover: { kind: 'none' }, overLimit: 'block' };
    await reserve(0, 0);
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 1000 });
    await toNextMonth();
    plans.credits = { included: 20_000, rollover: { kind: 'none' }, overLimit: 'block' };
    await reserve(0, 0);
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 20_000 });
  });
});
