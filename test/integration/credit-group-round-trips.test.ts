import { randomUUID } from 'node:crypto';
import { BillingCustomer, Notification } from '../../src/entities';
import { silentLogger } from '../../src/logging/logger';
import { CreditEvents } from '../../src/services/credits/credit-events';
import { laneOf } from '../../src/services/credits/credit-groups';
import { CreditLedger } from '../../src/services/credits/credit-ledger';
import type { OverageTerms } from '../../src/services/credits/credit-overage';
import { SpendAlerts } from '../../src/services/credits/spend-alerts';
import { SpendLimits } from '../../src/services/credits/spend-limits';
import { Notifier } from '../../src/services/notifications/notifier';
import { grantForTest, type LedgerHarness, openLedger } from '../support/credit-ledger';
import { countQueries, type QueryCounter } from '../support/query-counter';

/**
 * A model call's hold and settle in round trips (issue 17, ADR 0028's 2026-12-07 amendment): a credit group runs
 * below the ORM, `BEGIN` sent with its lock and its reads ahead, its last saves with `COMMIT`. A request that
 * needs the ORM (a spend alert's mail) rolls that attempt back and the group runs on the ORM's transaction,
 * with the same outcome. Queries are counted at the `pg` client (the `PREPARE`s once per connection left out).
 */
const PERIOD = { start: new Date('2026-12-01T00:00:00Z'), end: new Date('2027-01-01T00:00:00Z') };
const TERMS: OverageTerms = { period: PERIOD, unitAmountDecimal: '0.12', currency: 'usd' };

let harness: LedgerHarness;
let ledger: CreditLedger;
let limits: SpendLimits;
let counter: QueryCounter;

beforeAll(async () => {
  counter = countQueries();
  harness = await openLedger(new Date('2026-12-07T10:00:00Z'));
  const events = new CreditEvents(harness.pubSub, silentLogger);
  const alerts = new SpendAlerts(new Notifier(silentLogger));
  ledger = new CreditLedger(harness.orm, harness.clock, events, alerts);
  const plan = {
    key: 'starter',
    credits: { included: 0, rollover: { kind: 'none' as const }, overLimit: 'bill_overage' as const },
  };
  const terms = { terms: async () => ({ plan, period: PERIOD, overage: TERMS, currency: 'usd' }) };
  limits = new SpendLimits(
    harness.orm,
    harness.clock,
    terms,
    { unitAmountsDecimal: { usd: '0.12' } },
    'usd',
    events,
    alerts,
  );
});
afterAll(async () => {
  counter.restore();
  await harness.close();
});

async function customer(accountId: string): Promise<void> {
  const now = new Date();
  await harness.orm.em.fork().insert(BillingCustomer, {
    id: randomUUID(),
    accountId,
    email: `${accountId}@example.com`,
    createdAt: now,
    updatedAt: now,
  });
}

function grant(accountId: string, credits: number) {
  return grantForTest(ledger, accountId, credits);
}

/** A customer under a 6 ¢ spend limit holding 40 credits beyond a balance of none (the spend alert's case). */
async function heldPastTheBalance(accountId: string) {
  await customer(accountId);
  await limits.set({ accountId, monthlyCents: 6 });
  const held = await ledger.hold({
    accountId,
    credits: 40,
    ttlSeconds: 300,
    holdId: randomUUID(),
    overage: TERMS,
  });
  if (!held.ok) throw new Error('the hold was refused');
  return held.hold;
}

/** The queries `step` sent, `PREPARE`s left out (once per connection and statement). */
async function queriesOf<T>(step: () => Promise<T>): Promise<{ value: T; sent: string[] }> {
  counter.texts.length = 0;
  counter.counting = true;
  try {
    const value = await step();
    return { value, sent: counter.texts.filter((text) => !/^PREPARE /.test(text)) };
  } finally {
    counter.counting = false;
  }
}

it('a hold is two round trips and its settle two: BEGIN with the lock and reads (the lots too), the burn and the save with COMMIT', async () => {
  const accountId = 'acct_round_trips';
  await grant(accountId, 1_000);
  // Every pool connection warmed: each prepares the statements once, and that is left out anyway.
  for (let warm = 0; warm < 10; warm++) {
    const held = await ledger.hold({ accountId, credits: 5, ttlSeconds: 300, holdId: randomUUID() });
    if (!held.ok) throw new Error('the hold was refused');
    await ledger.settle({ accountId, holdId: held.hold.id, credits: 3 });
  }
  const holdId = randomUUID();
  const hold = await queriesOf(() => ledger.hold({ accountId, credits: 10, ttlSeconds: 300, holdId }));
  expect(hold.value).toMatchObject({ ok: true, duplicate: false });
  expect(hold.sent).toHaveLength(2);
  expect(hold.sent[0]).toMatch(/^BEGIN; EXECUTE bare_\w+\(.*\); EXECUTE bare_\w+\(/s);
  expect(hold.sent[1]).toMatch(/^EXECUTE bare_\w+\(.*\); COMMIT$/s);

  const settle = await queriesOf(() => ledger.settle({ accountId, holdId, credits: 7 }));
  expect(settle.value).toEqual({ outcome: 'settled', burned: 7, uncovered: 0, billed: 0, duplicate: false });
  // The lots are read with the lock and burned in memory in the burn order; their update goes with the save.
  expect(settle.sent).toHaveLength(2);
  expect(settle.sent[1]).toMatch(/^EXECUTE bare_\w+\(.*\); EXECUTE bare_\w+\(.*\); COMMIT$/s);
  expect(await harness.sums(accountId)).toMatchObject({ balance: 1_000 - 10 * 3 - 7, held: 0 });
  expect(await ledger.balanceOf(accountId)).toMatchObject({ balance: 963, held: 0, available: 963 });
  expect(ledger.groupStats().ormFallbacks).toBe(0);
});

it('a settle whose spend alert needs the ORM is rolled back below it and run on the ORM, with the same outcome', async () => {
  const accountId = 'acct_round_trips_alert';
  const hold = await heldPastTheBalance(accountId);
  const before = ledger.groupStats();
  // 40 beyond the balance: 5 ¢ of a 6 ¢ limit, past 80 %: the mail is queued in the settle's transaction.
  const settle = await queriesOf(() =>
    ledger.settle({ accountId, holdId: hold.id, credits: 40, overage: TERMS }),
  );
  expect(settle.value).toEqual({
    outcome: 'settled',
    burned: 0,
    uncovered: 40,
    billed: 40,
    duplicate: false,
  });
  expect(ledger.groupStats().ormFallbacks - before.ormFallbacks).toBe(1);
  expect(ledger.groupStats().rerun).toBe(before.rerun);
  expect(settle.sent[0]).toMatch(/^BEGIN; EXECUTE/);
  expect(settle.sent).toContain('ROLLBACK');
  const mails = await harness.orm.em.fork().find(Notification, { accountId, kind: 'spend_limit_alert' });
  expect(mails.map((mail) => mail.data)).toEqual([
    expect.objectContaining({ thresholdPercent: 80, spentCents: 5, limitCents: 6 }),
  ]);
  // Billed once: the attempt below the ORM left nothing behind.
  expect(await harness.sums(accountId)).toMatchObject({
    held: 0,
    overageHeld: 0,
    billed: 40,
    overageSpent: 40,
  });
});

it('reads ahead again when the lock dropped expired holds: a late settle of an expired hold frees it once', async () => {
  const accountId = 'acct_round_trips_expired';
  await grant(accountId, 500);
  const expiring = await ledger.hold({ accountId, credits: 30, ttlSeconds: 60, holdId: randomUUID() });
  const live = await ledger.hold({ accountId, credits: 20, ttlSeconds: 3_600, holdId: randomUUID() });
  if (!expiring.ok || !live.ok) throw new Error('a hold was refused');
  harness.clock.advance(61_000);
  // Read ahead with the lock the hold is still live; the lock then drops it as expired (held 50 → 20), and the
  // settle must see it expired, or it would free its 30 a second time.
  const settle = await queriesOf(() => ledger.settle({ accountId, holdId: expiring.hold.id, credits: 25 }));
  expect(settle.value).toMatchObject({ outcome: 'settled', burned: 25, uncovered: 0 });
  expect(await ledger.findHold(accountId, expiring.hold.id)).toMatchObject({ state: 'settled' });
  expect(await harness.sums(accountId)).toMatchObject({ balance: 475, held: 20, liveHolds: 20 });
  expect(await ledger.balanceOf(accountId)).toMatchObject({ balance: 475, held: 20, available: 455 });
  // The reads ahead read again after the expired holds were dropped: one statement more than a settle's three.
  expect(settle.sent.filter((text) => /from credit_hold where id = any/.test(text))).toHaveLength(1);
});

it('a group run again on the ORM writes each of its requests once: burns beside a settle that needs the ORM', async () => {
  const accountId = 'acct_round_trips_alert_grouped';
  let other = 0;
  while (laneOf(`acct_round_trips_beside_${other}`) !== laneOf(accountId)) other++;
  const beside = `acct_round_trips_beside_${other}`;
  await grant(beside, 100);
  const hold = await heldPastTheBalance(accountId);
  const before = ledger.groupStats();
  const burn = (credits: number) =>
    ledger.burn({ accountId: beside, credits, reason: 'beside', source: { type: 'test', id: randomUUID() } });
  // The first burn goes out alone; the settle and the burns after it wait for it and go out as one group.
  const first = burn(1);
  const settle = ledger.settle({ accountId, holdId: hold.id, credits: 40, overage: TERMS });
  const burns = [burn(10), burn(10), burn(10)];
  expect(await first).toMatchObject({ burned: 1 });
  expect(await settle).toMatchObject({ outcome: 'settled', billed: 40 });
  for (const burned of await Promise.all(burns)) expect(burned).toMatchObject({ burned: 10, uncovered: 0 });
  const after = ledger.groupStats();
  expect(after.groups - before.groups).toBe(2);
  expect(after.ormFallbacks - before.ormFallbacks).toBe(1);
  expect(after.rerun).toBe(before.rerun);
  // Each burn once, the overage billed once, one mail: the attempt below the ORM left nothing behind.
  expect(await harness.sums(beside)).toMatchObject({ balance: 69, entries: 69, lots: 69 });
  expect(await harness.sums(accountId)).toMatchObject({
    held: 0,
    overageHeld: 0,
    billed: 40,
    overageSpent: 40,
  });
  const mails = await harness.orm.em.fork().find(Notification, { accountId, kind: 'spend_limit_alert' });
  expect(mails).toHaveLength(1);
});
