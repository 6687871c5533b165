import { randomUUID } from 'node:crypto';
import { keptForHolds } from '../../src/services/credits/expiring-lots';
import { type LedgerHarness, ledgerPerTest } from '../support/credit-ledger';

/**
 * Credits a live hold was admitted on, when they expire under it (docs/credits.md "Held credits at an expiry",
 * docs/billing-rules.md): the holds made before the expiry keep up to what they cover, their settles burn those
 * first, and what they leave expires as soon as they are done. Holds made after the expiry take none of them. On
 * real PostgreSQL, through the ledger (a hold's settle is a group commit); after each test the balance row, the
 * entries and the lots agree, and `held` is the live holds'.
 */

let harness: LedgerHarness;
let account: string;
const MINUTE = 60_000;
ledgerPerTest('acct_held_expiry', (opened, next) => {
  harness = opened;
  account = next;
});

async function grant(
  kind: 'purchase' | 'grant',
  credits: number,
  expiresInMinutes: number | null,
  id: string,
) {
  harness.clock.advance(1);
  const now = harness.clock.now().getTime();
  const granted = await harness.ledger.grant({
    accountId: account,
    kind,
    credits,
    expiresAt: expiresInMinutes === null ? null : new Date(now + expiresInMinutes * MINUTE),
    reason: `${kind} ${id}`,
    source: { type: 'test', id: `${account}:${id}` },
    actor: 'test',
  });
  return granted.lot.id;
}

async function hold(credits: number, ttlSeconds = 3600): Promise<string> {
  const holdId = randomUUID();
  const held = await harness.ledger.hold({ accountId: account, credits, ttlSeconds, holdId });
  expect(held).toMatchObject({ ok: true });
  return holdId;
}

async function remainingOf(lotId: string): Promise<number> {
  const [row] = await harness.orm.em
    .getConnection()
    .execute<Array<{ remaining: string }>>('select remaining from credit_lot where id = ?', [lotId]);
  return Number(row?.remaining);
}

async function expiredCredits(): Promise<number> {
  const page = await harness.ledger.entries(account, 100, null);
  return -page.entries
    .filter((entry) => entry.kind === 'expiry')
    .reduce((sum, entry) => sum + entry.credits, 0);
}

/** 10,000 purchased credits that never expire and 5,000 promotional ones that expire in 10 minutes. */
async function packAndPromo(): Promise<{ pack: string; promo: string }> {
  const pack = await grant('purchase', 10_000, null, 'pack');
  const promo = await grant('grant', 5_000, 10, 'promo');
  return { pack, promo };
}

describe('keptForHolds', () => {
  it('keeps for the holds made before each expiry, what the lots before it kept counted', () => {
    expect(keptForHolds([])).toEqual([]);
    expect(
      keptForHolds([
        { remaining: 300, claimed: 500 },
        { remaining: 400, claimed: 500 },
        { remaining: 100, claimed: 900 },
      ]),
    ).toEqual([300, 200, 100]);
    expect(keptForHolds([{ remaining: 300, claimed: 0 }])).toEqual([0]);
  });
});

describe('a lot that expires under a live hold', () => {
  it('keeps what the hold covers; the rest expires; the settle burns the kept credits first', async () => {
    const { pack, promo } = await packAndPromo();
    const holdId = await hold(3_000);
    harness.clock.advance(20 * MINUTE);
    // Read before any write: the read already counts only what will expire.
    expect(await harness.ledger.balanceOf(account)).toMatchObject({
      balance: 13_000,
      held: 3_000,
      available: 10_000,
    });
    expect(await harness.ledger.expire()).toBe(1);
    expect(await remainingOf(promo)).toBe(3_000);
    expect(await expiredCredits()).toBe(2_000);
    // The call ran on credits it was admitted on: they pay for it, the purchased ones are untouched.
    expect(await harness.ledger.settle({ accountId: account, holdId, credits: 3_000 })).toMatchObject({
      burned: 3_000,
      uncovered: 0,
    });
    expect(await remainingOf(promo)).toBe(0);
    expect(await remainingOf(pack)).toBe(10_000);
    expect(await harness.ledger.balanceOf(account)).toMatchObject({
      balance: 10_000,
      held: 0,
      available: 10_000,
    });
  });

  it('a settle under the hold burns the kept credits and what it leaves expires at once', async () => {
    const { pack, promo } = await packAndPromo();
    const holdId = await hold(3_000);
    harness.clock.advance(20 * MINUTE);
    await harness.ledger.settle({ accountId: account, holdId, credits: 1_000 });
    // No other change ran: the settle itself expired the 2,000 the hold did not use.
    expect(await remainingOf(promo)).toBe(0);
    expect(await remainingOf(pack)).toBe(10_000);
    expect(await expiredCredits()).toBe(4_000);
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 10_000, held: 0 });
  });

  it('a settle of more than was held burns the kept credits, then the purchased ones', async () => {
    const { pack, promo } = await packAndPromo();
    const holdId = await hold(3_000);
    harness.clock.advance(20 * MINUTE);
    await harness.ledger.settle({ accountId: account, holdId, credits: 4_500 });
    expect(await remainingOf(promo)).toBe(0);
    expect(await remainingOf(pack)).toBe(8_500);
    expect(await expiredCredits()).toBe(2_000);
  });

  it('a release gives the kept credits to the expiry', async () => {
    const { pack, promo } = await packAndPromo();
    const holdId = await hold(5_000);
    harness.clock.advance(20 * MINUTE);
    expect(await harness.ledger.releaseHold(account, holdId)).toBe(true);
    expect(await remainingOf(promo)).toBe(0);
    expect(await remainingOf(pack)).toBe(10_000);
    expect(await expiredCredits()).toBe(5_000);
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 10_000, available: 10_000 });
  });

  it('a hold that runs out of time gives the kept credits to the expiry', async () => {
    const { promo } = await packAndPromo();
    await hold(3_000, 15 * 60);
    harness.clock.advance(12 * MINUTE);
    await harness.ledger.expire();
    expect(await remainingOf(promo)).toBe(3_000);
    harness.clock.advance(5 * MINUTE);
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 10_000, held: 0 });
    await harness.ledger.sweepHolds();
    expect(await remainingOf(promo)).toBe(0);
    expect(await expiredCredits()).toBe(5_000);
  });

  it('a hold made after the expiry takes none of the kept credits, and cannot lengthen them', async () => {
    const { pack, promo } = await packAndPromo();
    const before = await hold(3_000);
    harness.clock.advance(20 * MINUTE);
    // 10,000 are available: the purchased ones. The kept 3,000 are the first hold's only.
    expect(
      await harness.ledger.hold({
        accountId: account,
        credits: 10_001,
        ttlSeconds: 60,
        holdId: randomUUID(),
      }),
    ).toMatchObject({ ok: false });
    const after = await hold(2_000);
    await harness.ledger.settle({ accountId: account, holdId: after, credits: 2_000 });
    expect(await remainingOf(promo)).toBe(3_000);
    expect(await remainingOf(pack)).toBe(8_000);
    // Released, the first hold's credits expire: the second hold's settle did not use them.
    await harness.ledger.releaseHold(account, before);
    expect(await remainingOf(promo)).toBe(0);
    expect(await expiredCredits()).toBe(5_000);
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 8_000, held: 0 });
  });

  it('a burn outside a settle never takes credits past their expiry', async () => {
    const { pack, promo } = await packAndPromo();
    await hold(3_000);
    harness.clock.advance(20 * MINUTE);
    await harness.ledger.burn({
      accountId: account,
      credits: 1_000,
      source: { type: 'test', id: `${account}:burn` },
      reason: 'tokens',
    });
    expect(await remainingOf(promo)).toBe(3_000);
    expect(await remainingOf(pack)).toBe(9_000);
  });
});

describe('a refunded pack under a live hold', () => {
  it('loses everything left of it, held credits included; the settle burns what else there is', async () => {
    const pack = await grant('purchase', 10_000, null, 'pack');
    await grant('grant', 1_000, null, 'other');
    const holdId = await hold(11_000);
    const removal = { accountId: account, source: { type: 'test', id: `${account}:pack` } };
    expect(await harness.ledger.removeUnspent(removal)).toMatchObject({ removed: 10_000, spent: 0 });
    expect(await remainingOf(pack)).toBe(0);
    // The money went back: those credits pay for nothing more. The call's commit burns the 1,000 left and the
    // rest is uncovered (billed as overage where the plan bills it, docs/billing-rules.md).
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 1_000, available: 0 });
    expect(await harness.ledger.settle({ accountId: account, holdId, credits: 11_000 })).toMatchObject({
      burned: 1_000,
      uncovered: 10_000,
    });
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 0, held: 0 });
  });
});
