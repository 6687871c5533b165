import fc from 'fast-check';
import { inPreparedTransaction, type PreparedSql } from '../../src/database/prepared-transaction';
import { LockedAccount, lotTakesStatement } from '../../src/services/credits/credit-account';
import { takeFromLots } from '../../src/services/credits/credit-burning';
import { GroupReads, LOTS_AHEAD } from '../../src/services/credits/group-reads';
import { type LedgerHarness, openLedger } from '../support/credit-ledger';

/**
 * A settle's burn decided in memory from the lots its group read with the lock (issue 17: a round trip fewer per
 * settle) takes exactly what the burn statement takes (credit-burning.ts LOTS_IN_BURN_ORDER, the burn order in
 * SQL): for random lots (included, expiring, never expiring, already expired, spent, created at the same moment)
 * and random burns one after another, both give the same entries (lot, credits, balance after, in order) and
 * leave every lot with the same remaining credits, also after a burn in memory that was forgotten (its request
 * failed: `LockedAccount.restore`). Each side runs in a transaction rolled back after it, over the
 * same rows.
 */

const NOW = new Date('2026-12-07T10:00:00Z');
const MINUTE = 60_000;
const DAY = 86_400_000;

interface LotSpec {
  kind: 'included' | 'purchase' | 'grant';
  /** Days from now to its expiry (null: never; ≤ 0: expired already). */
  expiresInDays: number | null;
  /** Minutes before now it was made (small: ties on `created_at` are common, then the id decides). */
  createdMinutesAgo: number;
  credits: number;
  spent: number;
}

const lotSpec: fc.Arbitrary<LotSpec> = fc
  .record({
    kind: fc.constantFrom('included' as const, 'purchase' as const, 'grant' as const),
    expiresInDays: fc.option(fc.integer({ min: -1, max: 4 }), { nil: null }),
    createdMinutesAgo: fc.integer({ min: 0, max: 3 }),
    credits: fc.integer({ min: 1, max: 60 }),
    spent: fc.integer({ min: 0, max: 60 }),
  })
  .map((lot) => ({ ...lot, spent: Math.min(lot.spent, lot.credits) }));

let harness: LedgerHarness;

beforeAll(async () => {
  harness = await openLedger(NOW);
});
afterAll(async () => {
  await harness.close();
});

class RolledBack<T> extends Error {
  constructor(readonly value: T) {
    super('rolled back on purpose');
  }
}

/** `work` in a transaction that is rolled back after it: both sides see the same lots. */
async function rolledBack<T>(work: (sql: PreparedSql) => Promise<T>): Promise<T> {
  try {
    await inPreparedTransaction(harness.orm, async (sql) => {
      throw new RolledBack(await work(sql));
    });
  } catch (error) {
    if (error instanceof RolledBack) return error.value as T;
    throw error;
  }
  throw new Error('unreachable');
}

async function insertLots(sql: PreparedSql, accountId: string, lots: LotSpec[], ids: string[]) {
  for (const [index, lot] of lots.entries()) {
    const created = new Date(NOW.getTime() - lot.createdMinutesAgo * MINUTE);
    const expires = lot.expiresInDays === null ? null : new Date(NOW.getTime() + lot.expiresInDays * DAY);
    await sql(
      `insert into credit_lot (id, created_at, updated_at, account_id, kind, credits, remaining, expires_at,
                               source_type, source_id)
       values (?, ?, ?, ?, ?, ?, ?, ?, 'admin', ?)`,
      [
        ids[index],
        created,
        created,
        accountId,
        lot.kind,
        lot.credits,
        lot.credits - lot.spent,
        expires,
        `s${index}`,
      ],
    );
  }
}

interface Outcome {
  entries: Array<{ lotId: string | null; credits: number; balanceAfter: number }>;
  taken: number[];
  remaining: Array<{ id: string; remaining: string }>;
}

const TAKING = { kind: 'burn' as const, reason: 'test', source: { type: 'test', id: 't' }, actor: 'test' };

/** The burns on one side: `ahead` reads the lots as a group's lock does and burns in memory. */
async function burnAll(
  accountId: string,
  lots: LotSpec[],
  ids: string[],
  burns: number[],
  ahead: boolean,
  forgotten = 0,
) {
  return rolledBack<Outcome>(async (sql) => {
    await insertLots(sql, accountId, lots, ids);
    // A balance above every lot's: the burns are bounded by the lots, not by `available`.
    const account = new LockedAccount(sql, accountId, NOW, 10_000, 0);
    if (ahead) {
      const reads = await GroupReads.read(sql, [{ accountId, reads: { burns: true } }], NOW);
      const live = reads.lotsOf(accountId);
      const liveCount = lots.filter((lot) => isLive(lot)).length;
      // All the live lots, or none when there are more than the group reads ahead (its own statement, then).
      expect(live?.length).toBe(liveCount > LOTS_AHEAD ? undefined : liveCount);
      account.lotsAhead = live;
      // A request that burned and then failed is forgotten (credit-groups.ts): the lots get back what it took.
      const mark = account.mark();
      await takeFromLots(account, forgotten, TAKING);
      account.restore(mark);
    }
    const taken: number[] = [];
    for (const credits of burns) taken.push(await takeFromLots(account, credits, TAKING));
    const taking = lotTakesStatement([account], NOW);
    if (taking) await sql(taking.text, taking.values);
    const entries = account
      .pendingSave()
      .entries.map(({ lotId, credits, balanceAfter }) => ({ lotId, credits, balanceAfter }));
    const remaining = await sql<{ id: string; remaining: string }>(
      'select id, remaining from credit_lot where account_id = ? order by id',
      [accountId],
    );
    return { entries, taken, remaining };
  });
}

function isLive(lot: LotSpec): boolean {
  return lot.credits > lot.spent && (lot.expiresInDays === null || lot.expiresInDays > 0);
}

it('burning from the lots read ahead takes what the burn statement takes, lot by lot, in the burn order', async () => {
  let sample = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(lotSpec, { minLength: 0, maxLength: LOTS_AHEAD + 3 }),
      fc.array(fc.integer({ min: 1, max: 90 }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 0, max: 90 }),
      async (lots, burns, forgotten) => {
        const accountId = `acct_lots_ahead_${sample++}`;
        const ids = lots.map(() => crypto.randomUUID());
        const inSql = await burnAll(accountId, lots, ids, burns, false);
        const inMemory = await burnAll(accountId, lots, ids, burns, true, forgotten);
        expect(inMemory).toEqual(inSql);
      },
    ),
    { numRuns: 300 },
  );
});
