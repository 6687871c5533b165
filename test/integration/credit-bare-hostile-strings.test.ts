import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../src/errors';
import { MemberLimits } from '../../src/services/credits/member-limits';
import { grantForTest, type LedgerHarness, openLedger } from '../support/credit-ledger';

/**
 * Customer-controlled strings through a credit group run below the ORM (issue 17): account ids, member ids,
 * models, burn reasons and sources are written into `EXECUTE` as SQL literals (arrays as array literals), so each
 * must come back from the database exactly as sent, in a group of one account (its own save with `COMMIT`) and in
 * a group of many (the save over arrays). A string PostgreSQL refuses (a NUL byte) fails its own request only.
 */
const HOSTILE = [
  "o'brien",
  "'); drop table credit_hold; --",
  'back\\slash\\',
  '"double" quoted',
  '{braced,with,commas}',
  'NULL',
  'null',
  '',
  ' padded ',
  'ünïcödé ✓ 🧾',
  '\\", {} \\\\',
  "E'\\x41'",
  '$1 ? ?::text',
];

/** A member id must be 1 to 128 printable ASCII characters (member-limits-check.ts): the hostile ones that are. */
const MEMBER = /^[\x21-\x7e]([\x20-\x7e]{0,126}[\x21-\x7e])?$/;
const memberOf = (hostile: string) => (MEMBER.test(hostile) ? hostile : `{"m",'${hostile.length}'}\\`);

let harness: LedgerHarness;

beforeAll(async () => {
  harness = await openLedger(new Date('2026-12-07T10:00:00Z'));
});
afterAll(() => harness.close());

async function holdRow(holdId: string) {
  const [row] = await harness.orm.em
    .getConnection()
    .execute<Array<{ account_id: string; member_id: string | null; model: string | null }>>(
      'select account_id, member_id, model from credit_hold where id = ?',
      [holdId],
    );
  return row;
}

async function burnEntries(accountId: string) {
  return harness.orm.em.getConnection().execute<Array<{ reason: string; source_id: string; actor: string }>>(
    `select reason, source_id, actor from credit_ledger_entry
        where account_id = ? and kind = 'burn' order by id`,
    [accountId],
  );
}

function grant(accountId: string, credits: number) {
  return grantForTest(harness.ledger, accountId, credits);
}

/** A hold, a settle and a burn on the account, each naming `hostile` where a customer may. */
async function roundTrip(accountId: string, hostile: string) {
  const holdId = randomUUID();
  const held = await harness.ledger.hold({
    accountId,
    memberId: memberOf(hostile),
    credits: 5,
    ttlSeconds: 300,
    holdId,
    model: hostile,
  });
  expect(held).toMatchObject({ ok: true, duplicate: false });
  expect(await holdRow(holdId)).toEqual({
    account_id: accountId,
    member_id: memberOf(hostile),
    model: hostile,
  });
  expect(await harness.ledger.settle({ accountId, holdId, credits: 3 })).toMatchObject({ burned: 3 });
  await harness.ledger.burn({
    accountId,
    credits: 1,
    reason: hostile,
    source: { type: 'test', id: `${hostile}#${holdId}` },
    actor: hostile,
  });
  return holdId;
}

it('writes every hostile string exactly, one account per group', async () => {
  for (const [index, hostile] of HOSTILE.entries()) {
    const accountId = `${hostile}|single ${index}`;
    await grant(accountId, 100);
    const holdId = await roundTrip(accountId, hostile);
    expect(await burnEntries(accountId)).toEqual([
      { reason: 'Settled hold', source_id: holdId, actor: 'system' },
      { reason: hostile, source_id: `${hostile}#${holdId}`, actor: hostile },
    ]);
    expect(await harness.sums(accountId)).toMatchObject({ balance: 96, held: 0, liveHolds: 0 });
  }
  expect(harness.ledger.groupStats().ormFallbacks).toBe(0);
});

it('writes every hostile string exactly when many accounts share a group (the save over arrays)', async () => {
  const accounts = HOSTILE.map((hostile, index) => `${hostile}|many ${index}`);
  for (const accountId of accounts) await grant(accountId, 100);
  const before = harness.ledger.groupStats();
  const holdIds = await Promise.all(
    accounts.map((accountId, index) => roundTrip(accountId, HOSTILE[index] ?? '')),
  );
  const after = harness.ledger.groupStats();
  // Grouped: fewer groups than requests, and none of them rolled back.
  expect(after.groups - before.groups).toBeLessThan(after.requests - before.requests);
  expect(after.rerun).toBe(before.rerun);
  for (const [index, accountId] of accounts.entries()) {
    const hostile = HOSTILE[index] ?? '';
    expect(await burnEntries(accountId)).toEqual([
      { reason: 'Settled hold', source_id: holdIds[index], actor: 'system' },
      { reason: hostile, source_id: `${hostile}#${holdIds[index]}`, actor: hostile },
    ]);
    expect(await harness.sums(accountId)).toMatchObject({ balance: 96, held: 0, liveHolds: 0 });
  }
});

it('a string PostgreSQL refuses (a NUL byte) fails its own request only, and the group’s others commit once', async () => {
  const accounts = ['nul a', 'nul b', 'nul c'];
  for (const accountId of accounts) await grant(accountId, 100);
  const before = harness.ledger.groupStats();
  const burns = await Promise.allSettled(
    accounts.map((accountId, index) =>
      harness.ledger.burn({
        accountId,
        credits: 10,
        reason: index === 1 ? 'nul \u0000 byte' : 'fine',
        source: { type: 'test', id: randomUUID() },
      }),
    ),
  );
  expect(burns.map((burn) => burn.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect(harness.ledger.groupStats().ormFallbacks).toBe(before.ormFallbacks);
  expect((await harness.sums('nul a')).balance).toBe(90);
  expect((await harness.sums('nul b')).balance).toBe(100);
  expect((await harness.sums('nul c')).balance).toBe(90);
  // Every connection came back out of its transaction: a burn after it on each commits.
  await Promise.all(
    Array.from({ length: 8 }, (_, index) =>
      harness.ledger.burn({
        accountId: 'nul b',
        credits: 1,
        reason: `after ${index}`,
        source: { type: 'test', id: randomUUID() },
      }),
    ),
  );
  expect((await harness.sums('nul b')).balance).toBe(92);
});

it('finds the limit of every hostile member id in the group’s reads ahead: a hold past it is refused', async () => {
  const limits = new MemberLimits(harness.orm, harness.clock);
  const members = [...new Set(HOSTILE.map(memberOf))];
  const accountId = "limited 'acct' {x,y}";
  await grant(accountId, 1_000);
  for (const memberId of members)
    await limits.set({ accountId, memberId, monthlyCredits: 2, actor: 'admin:test' });
  // All at once: one group reads every (account, member) pair ahead, as arrays.
  const holds = await Promise.allSettled(
    members.map((memberId) =>
      harness.ledger.hold({ accountId, memberId, credits: 5, ttlSeconds: 300, holdId: randomUUID() }),
    ),
  );
  for (const hold of holds)
    expect(hold).toMatchObject({
      status: 'rejected',
      reason: { extensions: { code: ErrorCode.MEMBER_LIMIT_REACHED } },
    });
  expect(await harness.sums(accountId)).toMatchObject({ balance: 1_000, held: 0 });
});
