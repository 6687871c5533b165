import { randomUUID } from 'node:crypto';
import { silentLogger } from '../../src/logging/logger';
import { Topic } from '../../src/pubsub/topics';
import { CreditSweep } from '../../src/services/credits/credit-sweep';
import type { CreditSource } from '../../src/services/credits/credit-ledger.types';
import { type LedgerHarness, ledgerPerTest } from '../support/credit-ledger';
import { waitUntil } from '../support/wait';

/**
 * The credits ledger (issue 17, docs/credits.md) against real PostgreSQL: the burn order, idempotent grants and
 * burns, expiry, a refunded pack's unspent credits, holds, and an admin's adjustment that never goes below zero.
 * After each test the account's balance row, the sum of its entries and the sum of its lots agree.
 */

let harness: LedgerHarness;
let account: string;
const DAY = 86_400_000;
ledgerPerTest('acct_credits', (opened, next) => {
  harness = opened;
  account = next;
});

function source(id: string, type = 'test'): CreditSource {
  return { type, id };
}

function grant(
  kind: 'included' | 'purchase' | 'grant' | 'rollover',
  credits: number,
  expiresInDays: number | null,
  id: string,
) {
  // Lots granted at the same instant have no order among themselves: each grant a millisecond after the last.
  harness.clock.advance(1);
  const now = harness.clock.now().getTime();
  return harness.ledger.grant({
    accountId: account,
    kind,
    credits,
    expiresAt: expiresInDays === null ? null : new Date(now + expiresInDays * DAY),
    reason: `${kind} ${id}`,
    source: source(id),
    actor: 'test',
  });
}

async function remainingOf(lotId: string): Promise<number> {
  const [row] = await harness.orm.em
    .getConnection()
    .execute<Array<{ remaining: string }>>('select remaining from credit_lot where id = ?', [lotId]);
  return Number(row?.remaining);
}

describe('the burn order', () => {
  it('burns included credits first, then the soonest to expire, then purchased credits, oldest first', async () => {
    const purchasedOld = await grant('purchase', 100, null, 'pi_old');
    const purchasedNew = await grant('purchase', 100, null, 'pi_new');
    const promoLate = await grant('grant', 50, 20, 'promo_late');
    const promoSoon = await grant('grant', 50, 5, 'promo_soon');
    const included = await grant('included', 30, 30, 'period_1');

    const first = await harness.ledger.burn({
      accountId: account,
      credits: 100,
      source: source('use_1'),
      reason: 'tokens',
    });
    expect(first).toEqual({ burned: 100, uncovered: 0, billed: 0, duplicate: false });
    // 30 included, then 50 of the soonest-expiring promotion, then 20 of the later one.
    expect(await remainingOf(included.lot.id)).toBe(0);
    expect(await remainingOf(promoSoon.lot.id)).toBe(0);
    expect(await remainingOf(promoLate.lot.id)).toBe(30);
    expect(await remainingOf(purchasedOld.lot.id)).toBe(100);

    await harness.ledger.burn({ accountId: account, credits: 80, source: source('use_2'), reason: 'tokens' });
    expect(await remainingOf(promoLate.lot.id)).toBe(0);
    expect(await remainingOf(purchasedOld.lot.id)).toBe(50);
    expect(await remainingOf(purchasedNew.lot.id)).toBe(100);

    const past = await harness.ledger.burn({
      accountId: account,
      credits: 200,
      source: source('use_3'),
      reason: 'tokens',
    });
    expect(past).toEqual({ burned: 150, uncovered: 50, billed: 0, duplicate: false });
    expect((await harness.ledger.balanceOf(account)).balance).toBe(0);
  });
});

describe('idempotency', () => {
  it('a grant from the same source twice is one grant: the second answers the first lot', async () => {
    const first = await grant('purchase', 500, null, 'in_once');
    const second = await grant('purchase', 500, null, 'in_once');
    expect(second.duplicate).toBe(true);
    expect(second.lot.id).toBe(first.lot.id);
    expect(second.entryId).toBeNull();
    expect((await harness.ledger.balanceOf(account)).balance).toBe(500);
  });

  it('concurrent grants from one source make one lot', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => grant('purchase', 70, null, 'pi_race')));
    expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
    expect((await harness.ledger.balanceOf(account)).balance).toBe(70);
  });

  it('a burn for the same source twice burns once, and answers the first burn', async () => {
    await grant('purchase', 100, null, 'pi_burn');
    const burn = () =>
      harness.ledger.burn({ accountId: account, credits: 60, source: source('use_once'), reason: 'tokens' });
    const [first, second] = await Promise.all([burn(), burn()]);
    const answers = [first, second].sort((a, b) => Number(a.duplicate) - Number(b.duplicate));
    expect(answers[0]).toEqual({ burned: 60, uncovered: 0, billed: 0, duplicate: false });
    expect(answers[1]).toEqual({ burned: 60, uncovered: 0, billed: 0, duplicate: true });
    expect((await harness.ledger.balanceOf(account)).balance).toBe(40);
  });

  it('a burn nothing covered is remembered too: a later grant does not make its repeat burn', async () => {
    const first = await harness.ledger.burn({
      accountId: account,
      credits: 25,
      source: source('use_uncovered'),
      reason: 'tokens',
    });
    expect(first).toEqual({ burned: 0, uncovered: 25, billed: 0, duplicate: false });
    await grant('purchase', 100, null, 'pi_after');
    const again = await harness.ledger.burn({
      accountId: account,
      credits: 25,
      source: source('use_uncovered'),
      reason: 'tokens',
    });
    expect(again).toEqual({ burned: 0, uncovered: 25, billed: 0, duplicate: true });
    expect((await harness.ledger.balanceOf(account)).balance).toBe(100);
  });
});

describe('expiry', () => {
  it('a lot past its expiry loses what is left, once, and a soon expiry is shown', async () => {
    const promo = await grant('grant', 40, 3, 'promo_expiring');
    await grant('purchase', 10, null, 'pi_stays');
    await harness.ledger.burn({ accountId: account, credits: 15, source: source('use_e'), reason: 'tokens' });
    const before = await harness.ledger.balanceOf(account);
    expect(before.expiringSoon).toEqual({ credits: 25, at: promo.lot.expiresAt });

    harness.clock.advance(4 * DAY);
    expect((await harness.ledger.balanceOf(account)).balance).toBe(10);
    expect(await harness.ledger.expire()).toBeGreaterThanOrEqual(1);
    expect(await harness.ledger.expire()).toBe(0);
    const page = await harness.ledger.entries(account, 10, null);
    const expiries = page.entries.filter((entry) => entry.kind === 'expiry');
    expect(expiries.map((entry) => entry.credits)).toEqual([-25]);
    expect(await remainingOf(promo.lot.id)).toBe(0);
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 10, expiringSoon: null });
  });

  it('the background sweep drops expired lots and holds of an idle account', async () => {
    await grant('grant', 12, 1, 'promo_swept');
    await grant('purchase', 5, null, 'pi_swept');
    await harness.ledger.hold({ accountId: account, credits: 5, ttlSeconds: 60, holdId: randomUUID() });
    harness.clock.advance(2 * DAY);
    const sweep = new CreditSweep(harness.ledger, silentLogger, 10);
    sweep.start();
    try {
      await waitUntil(
        async () => (await harness.sums(account)).balance === 5,
        'the sweep expired the promotion',
      );
      await waitUntil(async () => (await harness.sums(account)).held === 0, 'the sweep dropped the hold');
    } finally {
      await sweep.stop();
    }
  });

  it('refuses a grant that has already expired', async () => {
    await expect(grant('grant', 10, -1, 'promo_past')).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT', field: 'expiresAt' },
    });
  });
});

describe('a refunded pack', () => {
  it('removes what is left of the pack and says what was already spent', async () => {
    await grant('purchase', 100, null, 'pi_first');
    harness.clock.advance(1);
    const pack = await harness.ledger.grant({
      accountId: account,
      kind: 'purchase',
      credits: 300,
      expiresAt: null,
      reason: 'Pack of 300',
      source: source('pi_refunded', 'stripe_payment_intent'),
      actor: 'stripe',
    });
    // The older purchase goes first, then 20 of the refunded pack.
    await harness.ledger.burn({
      accountId: account,
      credits: 120,
      source: source('use_r'),
      reason: 'tokens',
    });
    const removal = { accountId: account, source: source('pi_refunded', 'stripe_payment_intent') };
    expect(await harness.ledger.removeUnspent(removal)).toEqual({
      found: true,
      removed: 280,
      spent: 20,
      granted: 300,
      duplicate: false,
    });
    expect(await harness.ledger.removeUnspent(removal)).toMatchObject({
      removed: 0,
      spent: 20,
      duplicate: true,
    });
    expect(await remainingOf(pack.lot.id)).toBe(0);
    expect((await harness.ledger.balanceOf(account)).balance).toBe(0);
    expect(await harness.ledger.removeUnspent({ accountId: account, source: source('pi_unknown') })).toEqual({
      found: false,
    });
  });
});

describe('holds', () => {
  it('holds from what is available, refuses past it, and settles what was used', async () => {
    await grant('purchase', 100, null, 'pi_hold');
    const holdId = randomUUID();
    const held = await harness.ledger.hold({ accountId: account, credits: 70, ttlSeconds: 60, holdId });
    expect(held).toMatchObject({ ok: true, duplicate: false });
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 100, held: 70, available: 30 });

    const refused = await harness.ledger.hold({
      accountId: account,
      credits: 31,
      ttlSeconds: 60,
      holdId: randomUUID(),
    });
    expect(refused).toEqual({
      ok: false,
      reason: 'insufficient_credits',
      available: 30,
      requested: 31,
      overageRoom: 0,
      limitCents: null,
    });
    // A direct burn cannot take what the hold keeps.
    expect(
      await harness.ledger.burn({ accountId: account, credits: 50, source: source('use_h'), reason: 'x' }),
    ).toEqual({ burned: 30, uncovered: 20, billed: 0, duplicate: false });

    // The work used more than held: the hold's 70 cover 70 of it, nothing else is left.
    const settled = await harness.ledger.settle({ accountId: account, holdId, credits: 90 });
    expect(settled).toEqual({ outcome: 'settled', burned: 70, uncovered: 20, billed: 0, duplicate: false });
    expect(await harness.ledger.settle({ accountId: account, holdId, credits: 90 })).toEqual({
      outcome: 'settled',
      burned: 70,
      uncovered: 20,
      billed: 0,
      duplicate: true,
    });
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 0, held: 0, available: 0 });
    expect(await harness.ledger.releaseHold(account, holdId)).toBe(false);
  });

  it('a released hold gives its credits back and burns nothing when settled later', async () => {
    await grant('purchase', 50, null, 'pi_release');
    const holdId = randomUUID();
    await harness.ledger.hold({ accountId: account, credits: 50, ttlSeconds: 60, holdId });
    expect(await harness.ledger.releaseHold(account, holdId)).toBe(true);
    expect(await harness.ledger.releaseHold(account, holdId)).toBe(false);
    expect(await harness.ledger.settle({ accountId: account, holdId, credits: 10 })).toEqual({
      outcome: 'released',
    });
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 50, held: 0, available: 50 });
  });

  it('a hold past its time stops counting; a late settle still burns what the work used', async () => {
    await grant('purchase', 40, null, 'pi_expired_hold');
    const holdId = randomUUID();
    await harness.ledger.hold({ accountId: account, credits: 40, ttlSeconds: 30, holdId });
    harness.clock.advance(31_000);
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ held: 0, available: 40 });
    expect(await harness.ledger.sweepHolds()).toBe(1);
    expect(await harness.ledger.sweepHolds()).toBe(0);
    expect(await harness.ledger.settle({ accountId: account, holdId, credits: 15 })).toMatchObject({
      outcome: 'settled',
      burned: 15,
    });
    expect(await harness.ledger.balanceOf(account)).toMatchObject({ balance: 25, held: 0 });
  });

  it('a hold id answers the same hold again, and another account cannot settle it', async () => {
    await grant('purchase', 40, null, 'pi_same_hold');
    const holdId = randomUUID();
    const input = { accountId: account, credits: 10, ttlSeconds: 60, holdId };
    await harness.ledger.hold(input);
    expect(await harness.ledger.hold(input)).toMatchObject({ ok: true, duplicate: true });
    expect(await harness.ledger.settle({ accountId: 'acct_someone_else', holdId, credits: 10 })).toEqual({
      outcome: 'unknown',
    });
    await expect(harness.ledger.hold({ ...input, accountId: 'acct_someone_else' })).rejects.toMatchObject({
      extensions: { code: 'CONFLICT' },
    });
    expect((await harness.ledger.balanceOf(account)).held).toBe(10);
    await harness.ledger.releaseHold(account, holdId);
  });
});

describe("an admin's adjustment", () => {
  it('adds and takes credits once per key, and never below zero', async () => {
    const adjust = (credits: number, key: string) =>
      harness.ledger.adjust({
        accountId: account,
        credits,
        reason: 'support',
        actor: 'admin:ops',
        idempotencyKey: key,
      });
    expect(await adjust(30, 'adj_1')).toEqual({ credits: 30, balance: 30, duplicate: false });
    expect(await adjust(30, 'adj_1')).toMatchObject({ duplicate: true, balance: 30 });
    expect(await adjust(-10, 'adj_2')).toEqual({ credits: -10, balance: 20, duplicate: false });
    await expect(adjust(-21, 'adj_3')).rejects.toMatchObject({
      extensions: { code: 'INSUFFICIENT_CREDITS', available: 20, requested: 21 },
    });
    expect((await harness.ledger.balanceOf(account)).balance).toBe(20);
  });
});

describe('the ledger', () => {
  it('pages entries newest first, and publishes each change of the balance', async () => {
    const messages: unknown[] = [];
    const iterator = harness.pubSub.subscribe(Topic.BALANCE_UPDATED, account)[Symbol.asyncIterator]();
    const received = (async () => {
      for (let count = 0; count < 3; count++) messages.push((await iterator.next()).value);
    })();
    for (const id of ['a', 'b', 'c']) await grant('grant', 1, null, `page_${id}`);
    await received;
    expect(messages.at(-1)).toMatchObject({ accountId: account, balance: 3, available: 3 });

    const first = await harness.ledger.entries(account, 2, null);
    expect(first.entries.map((entry) => entry.reason)).toEqual(['grant page_c', 'grant page_b']);
    expect(first.hasNextPage).toBe(true);
    const second = await harness.ledger.entries(account, 2, first.entries.at(-1)?.id ?? null);
    expect(second.entries.map((entry) => entry.reason)).toEqual(['grant page_a']);
    expect(second.hasNextPage).toBe(false);
  });

  it('entries can be neither changed nor deleted', async () => {
    await grant('grant', 5, null, 'append_only');
    const connection = harness.orm.em.getConnection();
    await expect(
      connection.execute('update credit_ledger_entry set credits = 500 where account_id = ?', [account]),
    ).rejects.toThrow(/append-only/);
    await expect(
      connection.execute('delete from credit_ledger_entry where account_id = ?', [account]),
    ).rejects.toThrow(/append-only/);
  });
});
