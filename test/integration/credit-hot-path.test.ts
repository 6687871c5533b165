import { randomUUID } from 'node:crypto';
import { silentLogger } from '../../src/logging/logger';
import { type BalanceUpdatedPayload, Topic } from '../../src/pubsub/topics';
import { CreditEvents } from '../../src/services/credits/credit-events';
import { CreditLedger } from '../../src/services/credits/credit-ledger';
import { type LedgerHarness, ledgerPerTest } from '../support/credit-ledger';
import { waitUntil } from '../support/wait';

/**
 * The ledger's hot path (issue 17, a model call's hold and settle) against real PostgreSQL: what it no longer
 * reads on every change must still come out the same. The balance row's `next_expiry_at` lets a change skip
 * dropping expired holds and lots only while none can be due; `balanceUpdated` carries the figures the change's
 * transaction ended with; the auto top-up listener is told only for accounts that have it on.
 */

let harness: LedgerHarness;
let account: string;
const MINUTE = 60_000;
const DAY = 86_400_000;
ledgerPerTest('acct_hot_path', (opened, next) => {
  harness = opened;
  account = next;
});

async function nextExpiryOf(accountId: string): Promise<number | null> {
  const [row] = await harness.orm.em
    .getConnection()
    .execute<Array<{ next_expiry_at: string | null }>>(
      'select next_expiry_at from credit_balance where account_id = ?',
      [accountId],
    );
  return row?.next_expiry_at ? new Date(row.next_expiry_at).getTime() : null;
}

function grantExpiring(accountId: string, credits: number, expiresInMs: number | null, id: string) {
  const now = harness.clock.now().getTime();
  return harness.ledger.grant({
    accountId,
    kind: 'grant',
    credits,
    expiresAt: expiresInMs === null ? null : new Date(now + expiresInMs),
    reason: `grant ${id}`,
    source: { type: 'test', id },
    actor: 'test',
  });
}

function hold(accountId: string, credits: number, ttlSeconds: number) {
  return harness.ledger.hold({ accountId, credits, ttlSeconds, holdId: randomUUID() });
}

it('keeps the soonest expiry of live holds and lots on the balance row, and drops expired ones once one is due', async () => {
  const start = harness.clock.now().getTime();
  await grantExpiring(account, 100, null, 'never');
  expect(await nextExpiryOf(account)).toBeNull();
  await grantExpiring(account, 50, 10 * DAY, 'ten_days');
  expect(await nextExpiryOf(account)).toBe(start + 10 * DAY);

  const first = await hold(account, 30, 60);
  expect(first.ok).toBe(true);
  expect(await nextExpiryOf(account)).toBe(start + MINUTE);
  harness.clock.advance(30_000);
  await hold(account, 20, 60);
  expect(await nextExpiryOf(account)).toBe(start + MINUTE);

  // Past the first hold's time: the next change drops it, and the row moves on to the second hold's expiry.
  harness.clock.advance(31_000);
  await harness.ledger.burn({
    accountId: account,
    credits: 1,
    reason: 'work',
    source: { type: 'test', id: 'b1' },
  });
  expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 149, held: 20 });
  expect(await nextExpiryOf(account)).toBe(start + 30_000 + MINUTE);

  // Past the lot's expiry: its credits expire at the next change, as before, and nothing is left to expire.
  harness.clock.advance(10 * DAY);
  await harness.ledger.burn({
    accountId: account,
    credits: 1,
    reason: 'work',
    source: { type: 'test', id: 'b2' },
  });
  expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 99, held: 0, available: 99 });
  expect(await nextExpiryOf(account)).toBeNull();
});

it('the sweep drops a hold past its time even when the balance row was not told of it, and puts the row right', async () => {
  await grantExpiring(account, 40, null, 'sweep');
  const holdId = randomUUID();
  const now = harness.clock.now();
  // As a process that predates `next_expiry_at` writes a hold: the row's next expiry is not moved.
  const connection = harness.orm.em.getConnection();
  await connection.execute(
    `insert into credit_hold (id, created_at, updated_at, account_id, credits, expires_at, state)
     values (?, ?, ?, ?, 15, ?, 'held')`,
    [holdId, now, now, account, new Date(now.getTime() + MINUTE)],
  );
  await connection.execute('update credit_balance set held = held + 15 where account_id = ?', [account]);
  expect(await nextExpiryOf(account)).toBeNull();

  harness.clock.advance(2 * MINUTE);
  expect(await harness.ledger.sweepHolds()).toBeGreaterThanOrEqual(1);
  expect(await harness.ledger.findHold(account, holdId)).toMatchObject({ state: 'expired' });
  expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 40, held: 0, available: 40 });
  expect(await nextExpiryOf(account)).toBeNull();
});

it('publishes the figures each change ended with, soon-expiring credits included', async () => {
  const messages: BalanceUpdatedPayload[] = [];
  const iterator = harness.pubSub.subscribe(Topic.BALANCE_UPDATED, account)[Symbol.asyncIterator]();
  const received = (async () => {
    for (let count = 0; count < 3; count++)
      messages.push((await iterator.next()).value as BalanceUpdatedPayload);
  })();
  await grantExpiring(account, 70, 3 * DAY, 'soon');
  const held = await hold(account, 25, 300);
  if (!held.ok) throw new Error('the hold was refused');
  await harness.ledger.settle({ accountId: account, holdId: held.hold.id, credits: 10 });
  await received;

  const soonAt = new Date(harness.clock.now().getTime() + 3 * DAY);
  expect(messages).toEqual([
    { accountId: account, balance: 70, held: 0, available: 70, expiringSoon: { credits: 70, at: soonAt } },
    { accountId: account, balance: 70, held: 25, available: 45, expiringSoon: { credits: 70, at: soonAt } },
    { accountId: account, balance: 60, held: 0, available: 60, expiringSoon: { credits: 60, at: soonAt } },
  ]);
  // What was published is what a read finds now.
  const { accountId: _, ...published } = messages.at(-1) as BalanceUpdatedPayload;
  expect(await harness.ledger.balanceOf(account)).toEqual(published);
});

it('tells the auto top-up listener of a change only for an account with automatic top-up on; others of every change', async () => {
  const told: Array<{ accountId: string; available: number }> = [];
  const everyChange: string[] = [];
  const events = new CreditEvents(harness.pubSub, silentLogger);
  events.onAutoTopUpBalanceChanged(async (accountId, available) => {
    told.push({ accountId, available });
  });
  events.onBalanceChanged(async (accountId) => {
    everyChange.push(accountId);
  });
  const ledger = new CreditLedger(harness.orm, harness.clock, events);
  const without = `${account}_without`;
  const off = `${account}_off`;
  const connection = harness.orm.em.getConnection();
  for (const [accountId, enabled] of [
    [account, true],
    [off, false],
  ] as const)
    await connection.execute(
      `insert into credit_auto_top_up (account_id, enabled, below_credits, pack_key, updated_at)
       values (?, ?, 10, 'starter', ?)`,
      [accountId, enabled, harness.clock.now()],
    );

  for (const accountId of [without, off, account])
    await ledger.grant({
      accountId,
      kind: 'grant',
      credits: 30,
      expiresAt: null,
      reason: 'listener',
      source: { type: 'test', id: `listener_${accountId}` },
      actor: 'test',
    });
  await ledger.burn({ accountId: account, credits: 25, reason: 'work', source: { type: 'test', id: 'l1' } });
  await waitUntil(() => told.length >= 2, 'the listener was told of both changes');
  expect(told).toEqual([
    { accountId: account, available: 30 },
    { accountId: account, available: 5 },
  ]);
  // The low-balance mail's listener hears every account's changes.
  await waitUntil(() => everyChange.length >= 4, 'the other listener was told of every change');
  expect(everyChange.sort()).toEqual([account, account, off, without].sort());
  for (const accountId of [without, off]) {
    const sums = await harness.sums(accountId);
    expect(sums.entries).toBe(30);
  }
});

it('holds and settles go on when a migration adds a column under the prepared statements', async () => {
  await grantExpiring(account, 1000, null, 'prepared');
  const settleAll = async (count: number) => {
    const holds = await Promise.all(Array.from({ length: count }, () => hold(account, 5, 300)));
    return Promise.all(
      holds.map((held) => {
        if (!held.ok) throw new Error('the hold was refused');
        return harness.ledger.settle({ accountId: account, holdId: held.hold.id, credits: 3 });
      }),
    );
  };
  // Every pooled connection has the ledger's statements prepared by now.
  await settleAll(16);
  const connection = harness.orm.em.getConnection();
  await connection.execute('alter table credit_hold add column migration_probe int null');
  await connection.execute('alter table credit_lot add column migration_probe int null');
  try {
    const settled = await settleAll(16);
    expect(settled.every((outcome) => outcome.outcome === 'settled')).toBe(true);
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 1000 - 32 * 3, held: 0 });
  } finally {
    await connection.execute('alter table credit_hold drop column migration_probe');
    await connection.execute('alter table credit_lot drop column migration_probe');
  }
});
