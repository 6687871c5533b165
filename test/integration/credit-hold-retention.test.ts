import type { PlanCredits } from '../../src/services/plans/credit.types';
import { RateCard } from '../../src/services/plans/rate-card';
import { CreditHoldRetention } from '../../src/services/credits/credit-hold-retention';
import { IncludedCredits } from '../../src/services/credits/included-credits';
import { TokenReservations } from '../../src/services/credits/token-reservations';
import { type LedgerHarness, openLedger } from '../support/credit-ledger';

/**
 * Credit holds that do not grow without bound (issue 14, ADR 0021's amendment): one `credit_hold` row per model
 * call paid in credits. The maintenance job deletes the settled, released and expired ones made and last changed
 * before the oldest day kept (`USAGE_RECORD_RETENTION_DAYS`), never a held one, never a ledger entry; a repeated
 * commit inside the retention still answers the first; a key reused once its hold is gone is a new call whose
 * repeated commit answers its own burn only. Real PostgreSQL, on a hand-moved clock.
 */

const DAY = 24 * 3600 * 1000;
const KEEP_DAYS = 40;
const rateCard = new RateCard({
  // 1 credit per 1,000 input tokens, 15 per 1,000 output tokens.
  'test-flat': [
    {
      effectiveFrom: new Date('2026-01-01T00:00:00Z'),
      inputCreditsPerMillion: 1000,
      outputCreditsPerMillion: 15000,
    },
  ],
});

class PlanStub {
  credits: PlanCredits = { included: 100_000, rollover: { kind: 'none' }, overLimit: 'block' };
  async allowances() {
    return { plan: { key: 'test_plan', credits: this.credits }, billingPeriod: null };
  }
}

let harness: LedgerHarness;
let reservations: TokenReservations;
let retention: CreditHoldRetention;

beforeAll(async () => {
  harness = await openLedger(new Date('2026-12-07T10:00:00Z'));
  reservations = new TokenReservations(
    harness.ledger,
    rateCard,
    new IncludedCredits(harness.ledger, new PlanStub(), harness.clock),
    harness.clock,
  );
  retention = new CreditHoldRetention(harness.orm, KEEP_DAYS);
});
afterAll(async () => {
  await harness.close();
});

function reserve(accountId: string, idempotencyKey: string, ttlSeconds = 300) {
  return reservations.reserve({
    accountId,
    model: 'test-flat',
    inputTokens: 1000,
    maxOutputTokens: 1000,
    idempotencyKey,
    ttlSeconds,
  });
}

function commit(accountId: string, reservationId: string, inputTokens = 2000) {
  return reservations.commit({ accountId, reservationId, inputTokens, outputTokens: 0 });
}

async function holdsOf(accountId: string): Promise<Array<{ id: string; state: string }>> {
  return harness.orm.em
    .getConnection()
    .execute(`select id, state from credit_hold where account_id = ? order by created_at, id`, [accountId]);
}

async function entryCount(accountId: string): Promise<number> {
  const [row] = await harness.orm.em
    .getConnection()
    .execute<Array<{ count: string }>>('select count(*) from credit_ledger_entry where account_id = ?', [
      accountId,
    ]);
  return Number(row?.count);
}

async function expectLedgerAgrees(accountId: string): Promise<void> {
  const sums = await harness.sums(accountId);
  expect(sums.entries).toBe(sums.balance);
  expect(sums.lots).toBe(sums.balance);
  expect(sums.liveHolds).toBe(sums.held);
}

it('deletes finished holds past the retention, never a held one, a recent one, a late-committed one or an entry', async () => {
  const account = 'acct_hold_retention';
  const idle = 'acct_hold_retention_idle';
  // Made now: one committed, one released, one that expires (swept), one committed after it expired (below).
  const settled = await reserve(account, 'settled');
  await commit(account, settled.id);
  const released = await reserve(account, 'released');
  expect(await reservations.release(account, released.id)).toBe(true);
  const expired = await reserve(account, 'expired', 1);
  const late = await reserve(account, 'late', 1);
  // A hold of an account idle since, never committed nor swept past its time: still `held` however old.
  const stale = await reserve(idle, 'stale', 3600);
  harness.clock.advance(2000);
  await harness.ledger.sweepHolds();
  // Past the retention: a late commit of the expired call (its work was done) burns now; a live and a recent
  // committed call are made now.
  harness.clock.advance((KEEP_DAYS + 1) * DAY);
  const lateOutcome = await commit(account, late.id);
  expect(lateOutcome.duplicate).toBe(false);
  const recent = await reserve(account, 'recent');
  const recentOutcome = await commit(account, recent.id);
  const live = await reserve(account, 'live');
  const entries = await entryCount(account);

  expect(await retention.run(harness.clock.now())).toBe(3);
  expect(await holdsOf(account)).toEqual([
    { id: late.id, state: 'settled' },
    { id: recent.id, state: 'settled' },
    { id: live.id, state: 'held' },
  ]);
  expect((await holdsOf(idle)).map((hold) => hold.id)).toEqual([stale.id]);
  // The ledger's entries (the audit of what each call burned) stay whole, and it still agrees with itself.
  expect(await entryCount(account)).toBe(entries);
  // A repeated commit inside the retention answers the first, the late one too (changed inside it).
  expect(await commit(account, recent.id)).toEqual({ ...recentOutcome, duplicate: true });
  expect(await commit(account, late.id)).toEqual({ ...lateOutcome, duplicate: true });
  // Past the retention a reservation is unknown: what it burned is in the ledger.
  await expect(commit(account, settled.id)).rejects.toMatchObject({ extensions: { code: 'NOT_FOUND' } });
  await expect(reservations.release(account, expired.id)).rejects.toMatchObject({
    extensions: { code: 'NOT_FOUND' },
  });
  expect(await retention.run(harness.clock.now())).toBe(0);
  await expectLedgerAgrees(account);
  // The live one is committed as ever.
  expect((await commit(account, live.id)).duplicate).toBe(false);
  await expectLedgerAgrees(account);
});

it('deletes in batches: more finished holds than a batch all go in one run', async () => {
  const account = 'acct_hold_retention_batches';
  const old = new Date(harness.clock.now().getTime() - (KEEP_DAYS + 2) * DAY);
  await harness.orm.em.getConnection().execute(
    `insert into credit_hold (id, created_at, updated_at, account_id, credits, expires_at, state)
     select gen_random_uuid(), ?, ?, ?, 1, ?, 'released' from generate_series(1, 2500)`,
    [old, old, account, old],
  );
  const small = new CreditHoldRetention(harness.orm, KEEP_DAYS, 1000);
  expect(await small.run(harness.clock.now())).toBe(2500);
  expect(await holdsOf(account)).toEqual([]);
});

it('a key reused once its hold is gone is a new call: its repeated commit answers its own burn, not the old one’s', async () => {
  const account = 'acct_hold_retention_reused';
  const first = await reserve(account, 'request-1');
  const firstOutcome = await commit(account, first.id, 5000);
  harness.clock.advance((KEEP_DAYS + 1) * DAY);
  expect(await retention.run(harness.clock.now())).toBeGreaterThanOrEqual(1);
  const again = await reserve(account, 'request-1');
  expect(again).toMatchObject({ id: first.id, duplicate: false });
  const outcome = await commit(account, again.id, 2000);
  expect(outcome).toEqual({ credits: 2, burned: 2, uncovered: 0, billed: 0, duplicate: false });
  expect(firstOutcome.credits).toBe(5);
  expect(await commit(account, again.id, 2000)).toEqual({ ...outcome, duplicate: true });
  await expectLedgerAgrees(account);
});
