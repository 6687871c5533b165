import { randomUUID } from 'node:crypto';
import { BillingCustomer, Notification } from '../../src/entities';
import { silentLogger } from '../../src/logging/logger';
import { CreditEvents } from '../../src/services/credits/credit-events';
import { CreditLedger } from '../../src/services/credits/credit-ledger';
import type { OverageTerms } from '../../src/services/credits/credit-overage';
import { SpendAlerts } from '../../src/services/credits/spend-alerts';
import { SpendLimits } from '../../src/services/credits/spend-limits';
import { Notifier } from '../../src/services/notifications/notifier';
import { type LedgerHarness, openLedger } from '../support/credit-ledger';

/**
 * Credits beyond the balance and the spend limit over them, at the ledger (docs/billing-rules.md rows 76–79): what
 * a hold keeps beyond the balance, what a settle bills and writes off, the limit under concurrency, the 80 and
 * 100 % mails once each, and automatic top-ups counted in the same limit. Real PostgreSQL; 0.12 ¢ a credit, so
 * round(n × 0.12) ≤ 6 ¢ for n up to 54 credits.
 */
const PERIOD = { start: new Date('2026-12-01T00:00:00Z'), end: new Date('2027-01-01T00:00:00Z') };
const TERMS: OverageTerms = { period: PERIOD, unitAmountDecimal: '0.12', currency: 'usd' };

let harness: LedgerHarness;
let ledger: CreditLedger;
let limits: SpendLimits;
let account: string;
let sequence = 0;
/** The account's overage terms now (null: a plan that blocks, a subscription past due) and its currency. */
let termsNow: { overage: OverageTerms | null; currency: string } = { overage: TERMS, currency: 'usd' };

beforeAll(async () => {
  harness = await openLedger(new Date('2026-12-07T10:00:00Z'));
  const events = new CreditEvents(harness.pubSub, silentLogger);
  const alerts = new SpendAlerts(new Notifier(silentLogger));
  ledger = new CreditLedger(harness.orm, harness.clock, events, alerts);
  const terms = {
    terms: async () => ({
      plan: {
        key: 'starter',
        credits: { included: 0, rollover: { kind: 'none' as const }, overLimit: 'bill_overage' as const },
      },
      period: PERIOD,
      ...termsNow,
    }),
  };
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
afterAll(() => harness.close());

beforeEach(async () => {
  termsNow = { overage: TERMS, currency: 'usd' };
  sequence += 1;
  account = `acct_spend_${sequence}`;
  const now = new Date();
  await harness.orm.em.fork().insert(BillingCustomer, {
    id: randomUUID(),
    accountId: account,
    email: `${account}@example.com`,
    createdAt: now,
    updatedAt: now,
  });
});

async function grant(credits: number): Promise<void> {
  await ledger.grant({
    accountId: account,
    kind: 'purchase',
    credits,
    expiresAt: null,
    reason: 'test',
    source: { type: 'test', id: randomUUID() },
    actor: 'test',
  });
}

function hold(credits: number, overage: OverageTerms | null = TERMS, ttlSeconds = 300) {
  return ledger.hold({ accountId: account, credits, ttlSeconds, holdId: randomUUID(), overage });
}

async function mails(): Promise<unknown[]> {
  const rows = await harness.orm.em
    .fork()
    .find(Notification, { accountId: account, kind: 'spend_limit_alert' });
  return rows.map((row) => row.data);
}

describe('credits beyond the balance', () => {
  it('keeps a hold’s part beyond the balance apart, and frees it on release and on expiry', async () => {
    await grant(30);
    const first = await hold(50);
    expect(first).toMatchObject({ ok: true, hold: { credits: 50, overageCredits: 20 } });
    expect(await harness.sums(account)).toMatchObject({ held: 30, overageHeld: 20, liveOverage: 20 });
    // Nothing is available: a plan that refuses overage is refused outright.
    expect(await hold(1, null)).toMatchObject({ ok: false, reason: 'insufficient_credits', available: 0 });
    if (!first.ok) throw new Error('held');
    expect(await ledger.releaseHold(account, first.hold.id)).toBe(true);
    expect(await harness.sums(account)).toMatchObject({ held: 0, overageHeld: 0 });

    expect(await hold(45, TERMS, 60)).toMatchObject({ ok: true, hold: { overageCredits: 15 } });
    harness.clock.advance(61_000);
    await ledger.sweepHolds();
    expect(await harness.sums(account)).toMatchObject({ held: 0, overageHeld: 0, billed: 0 });
  });

  it('bills at the settle what the balance did not cover, once, and counts it for Stripe', async () => {
    await grant(30);
    const held = await hold(50);
    if (!held.ok) throw new Error('held');
    const settle = () =>
      ledger.settle({ accountId: account, holdId: held.hold.id, credits: 45, overage: TERMS });
    expect(await settle()).toEqual({
      outcome: 'settled',
      burned: 30,
      uncovered: 15,
      billed: 15,
      duplicate: false,
    });
    expect(await settle()).toEqual({
      outcome: 'settled',
      burned: 30,
      uncovered: 15,
      billed: 15,
      duplicate: true,
    });
    expect(await harness.sums(account)).toMatchObject({
      balance: 0,
      overageHeld: 0,
      billed: 15,
      overageCounted: 15,
      overageSpent: 15,
    });
  });
});

describe('the spend limit', () => {
  it('lets concurrent holds beyond the balance take exactly what fits, never more', async () => {
    await limits.set({ accountId: account, monthlyCents: 6 });
    const answers = await Promise.all(Array.from({ length: 30 }, () => hold(10)));
    // 5 × 10 = 50 credits fit (round(50 × 0.12) = 6 ¢); a sixth would make 60 (7 ¢).
    expect(answers.filter((answer) => answer.ok)).toHaveLength(5);
    expect(answers.find((answer) => !answer.ok)).toEqual({
      ok: false,
      reason: 'spend_limit',
      available: 0,
      requested: 10,
      overageRoom: 4,
      limitCents: 6,
    });
    expect(await harness.sums(account)).toMatchObject({ overageHeld: 50 });
  });

  it('bills an overrun only as far as the limit, writing off the rest, and mails at 80 % and 100 % once', async () => {
    await limits.set({ accountId: account, monthlyCents: 6 });
    const held = await hold(40);
    if (!held.ok) throw new Error('held');
    // 40 beyond: 5 ¢ (0.8 of the limit is 4.8 ¢): the 80 % mail.
    const first = await ledger.settle({
      accountId: account,
      holdId: held.hold.id,
      credits: 40,
      overage: TERMS,
    });
    expect(first).toMatchObject({ billed: 40 });
    expect(await mails()).toEqual([
      expect.objectContaining({ thresholdPercent: 80, spentCents: 5, limitCents: 6 }),
    ]);

    // The work used 30 more than its hold of 10: 14 fit under the limit (54 − 40), 16 are not charged.
    const small = await hold(10);
    expect(small).toMatchObject({ ok: true });
    if (!small.ok) throw new Error('held');
    const settled = await ledger.settle({
      accountId: account,
      holdId: small.hold.id,
      credits: 30,
      overage: TERMS,
    });
    expect(settled).toEqual({ outcome: 'settled', burned: 0, uncovered: 30, billed: 14, duplicate: false });
    expect(await limits.viewOf(account)).toMatchObject({
      monthlyCents: 6,
      overageCredits: 54,
      overageCents: 6,
      spentCents: 6,
      heldOverageCredits: 0,
    });
    const sent = await mails();
    expect(sent).toHaveLength(2);
    expect(sent).toContainEqual(expect.objectContaining({ thresholdPercent: 100, spentCents: 6 }));
    expect(await hold(1)).toMatchObject({ ok: false, reason: 'spend_limit', overageRoom: 0 });
  });

  it('bills what a live call was admitted beyond the balance even when the limit was lowered during it', async () => {
    const held = await hold(1000);
    if (!held.ok) throw new Error('held');
    // The customer sets a limit of 0 while the call runs, then removes it again: the call was admitted, it is billed.
    await limits.set({ accountId: account, monthlyCents: 0 });
    const settled = await ledger.settle({
      accountId: account,
      holdId: held.hold.id,
      credits: 1200,
      overage: TERMS,
    });
    // 1,000 admitted are billed; the 200 the call used beyond its hold find no room under a limit of 0.
    expect(settled).toEqual({
      outcome: 'settled',
      burned: 0,
      uncovered: 1200,
      billed: 1000,
      duplicate: false,
    });
    expect(await limits.viewOf(account)).toMatchObject({ overageCredits: 1000, overageCents: 120 });
  });

  it('bills what a call was admitted beyond the balance when its commit comes after the reservation expired', async () => {
    await limits.set({ accountId: account, monthlyCents: 6 });
    // 40 credits beyond the balance admitted (54 fit under 6 ¢), for 60 s.
    const late = await hold(40, TERMS, 60);
    if (!late.ok) throw new Error('held');
    harness.clock.advance(61_000);
    await ledger.sweepHolds();
    // The expiry gave its room back: another call takes 40 of the 54.
    const next = await hold(40);
    expect(next).toMatchObject({ ok: true });
    // The late commit: the call ran and used its 40 credits. They are billed as a live hold's would be, whatever
    // room is left (14); what it used beyond its hold (5) only as far as the limit leaves room (none now).
    const settled = await ledger.settle({
      accountId: account,
      holdId: late.hold.id,
      credits: 45,
      overage: TERMS,
    });
    expect(settled).toEqual({ outcome: 'settled', burned: 0, uncovered: 45, billed: 40, duplicate: false });
    expect(await harness.sums(account)).toMatchObject({ billed: 40, overageCounted: 40, overageHeld: 40 });
    // The terms stopped billing overage before the late commit: the admitted part at its price, as a live hold.
    await limits.set({ accountId: account, monthlyCents: null });
    const other = await hold(10, TERMS, 60);
    if (!other.ok) throw new Error('held');
    harness.clock.advance(61_000);
    expect(
      await ledger.settle({
        accountId: account,
        holdId: other.hold.id,
        credits: 10,
        overage: null,
        period: PERIOD,
      }),
    ).toMatchObject({ billed: 10 });
  });

  it('bills what a live call was admitted at its price when the terms stopped billing overage during it', async () => {
    const held = await hold(1000);
    if (!held.ok) throw new Error('held');
    // The subscription turned past due (or the plan changed to one that blocks): the commit has no overage terms.
    const settled = await ledger.settle({
      accountId: account,
      holdId: held.hold.id,
      credits: 1500,
      overage: null,
      period: PERIOD,
    });
    // The 1,000 admitted are billed at the 0.12 ¢ they were admitted at; the 500 beyond the hold are not.
    expect(settled).toEqual({
      outcome: 'settled',
      burned: 0,
      uncovered: 1500,
      billed: 1000,
      duplicate: false,
    });
    expect(await harness.sums(account)).toMatchObject({
      billed: 1000,
      overageCounted: 1000,
      overageSpent: 1000,
    });
  });

  it('counts what calls in progress hold beyond the balance before a top-up is claimed', async () => {
    await limits.set({ accountId: account, monthlyCents: 2000 });
    // 16,600 credits beyond the balance held: 1,992 ¢ if billed; a $10.00 pack would pass the $20.00 limit.
    expect(await hold(16_600)).toMatchObject({ ok: true });
    expect(await limits.claimTopUp({ accountId: account, attempt: 1, cents: 1000 })).toBe(
      'spend_limit_reached',
    );
    expect(await limits.claimTopUp({ accountId: account, attempt: 2, cents: 8 })).toBe('claimed');
  });

  it('counts automatic top-ups in the same limit, never two past it at once, and gives a declined one back', async () => {
    await limits.set({ accountId: account, monthlyCents: 1500 });
    const claims = await Promise.all(
      [1, 2, 3].map((attempt) => limits.claimTopUp({ accountId: account, attempt, cents: 1000 })),
    );
    expect(claims.filter((claim) => claim === 'claimed')).toHaveLength(1);
    expect(await limits.viewOf(account)).toMatchObject({ topUpCents: 1000, spentCents: 1000 });
    // The top-up was declined: nothing owed, so it leaves the spend (once) and the next one fits again.
    const claimed = claims.indexOf('claimed') + 1;
    await limits.giveBackTopUp(account, claimed);
    await limits.giveBackTopUp(account, claimed);
    expect(await limits.viewOf(account)).toMatchObject({ topUpCents: 0 });
    expect(await limits.claimTopUp({ accountId: account, attempt: 4, cents: 1000 })).toBe('claimed');
    // 1,000 of 1,500 is 66 %: no mail; 500 more credits' worth would pass it.
    expect(await mails()).toEqual([]);
    expect(await hold(5000)).toMatchObject({ ok: false, reason: 'spend_limit', overageRoom: 4170 });
  });

  it('claims a top-up attempt once: a resumed charge of the same attempt counts its amount no second time', async () => {
    await limits.set({ accountId: account, monthlyCents: 1500 });
    const claim = { accountId: account, attempt: 7, cents: 1000 };
    expect(await limits.claimTopUp(claim)).toBe('claimed');
    // The process stopped mid-charge; the claim is charged again with the same attempt (Stripe answers the first
    // charge): it was counted already, so it still fits and the spend is the one pack.
    expect(await limits.claimTopUp(claim)).toBe('claimed');
    expect(await Promise.all([limits.claimTopUp(claim), limits.claimTopUp(claim)])).toEqual([
      'claimed',
      'claimed',
    ]);
    expect(await limits.viewOf(account)).toMatchObject({ topUpCents: 1000, spentCents: 1000 });
    // Another attempt is another pack: $20.00 would pass the $15.00 limit.
    expect(await limits.claimTopUp({ ...claim, attempt: 8 })).toBe('spend_limit_reached');
  });

  it('claims again an attempt whose amount was given back: charged again, it counts again, within the limit (row 113)', async () => {
    await limits.set({ accountId: account, monthlyCents: 1500 });
    const claim = { accountId: account, attempt: 9, cents: 1000 };
    expect(await limits.claimTopUp(claim)).toBe('claimed');
    // Given back (a decline, a void), then the same attempt is charged again (a charge resumed after Stripe forgot
    // its key): what may be paid counts against the limit, once.
    await limits.giveBackTopUp(account, 9);
    expect(await limits.viewOf(account)).toMatchObject({ topUpCents: 0 });
    expect(await limits.claimTopUp(claim)).toBe('claimed');
    expect(await limits.claimTopUp(claim)).toBe('claimed');
    expect(await limits.viewOf(account)).toMatchObject({ topUpCents: 1000, spentCents: 1000 });
    // Given back again, and another pack claimed meanwhile: the attempt no longer fits, and is refused.
    await limits.giveBackTopUp(account, 9);
    expect(await limits.claimTopUp({ ...claim, attempt: 10 })).toBe('claimed');
    expect(await limits.claimTopUp(claim)).toBe('spend_limit_reached');
    expect(await limits.viewOf(account)).toMatchObject({ topUpCents: 1000 });
  });

  it('prices the period’s overage for a top-up claim also when overage is no longer billed, and never claims 0', async () => {
    await limits.set({ accountId: account, monthlyCents: 1500 });
    const held = await hold(10_000);
    if (!held.ok) throw new Error('held');
    await ledger.settle({ accountId: account, holdId: held.hold.id, credits: 10_000, overage: TERMS });
    // $12.00 billed as overage; then the plan stops billing overage (a downgrade, a subscription past due). The
    // $12.00 are still owed: a $10.00 pack would take the period to $22.00.
    termsNow = { overage: null, currency: 'usd' };
    expect(await limits.claimTopUp({ accountId: account, attempt: 1, cents: 1000 })).toBe(
      'spend_limit_reached',
    );
    expect(await limits.claimTopUp({ accountId: account, attempt: 2, cents: 300 })).toBe('claimed');
    // A currency the `ai_credits` price has no amount in: the overage cannot be priced, so nothing is claimed.
    termsNow = { overage: null, currency: 'jpy' };
    expect(await limits.claimTopUp({ accountId: account, attempt: 3, cents: 1 })).toBe('spend_not_priced');
    // A pack without an amount is never claimed as 0 ¢.
    for (const cents of [0, -5, 1.5])
      await expect(limits.claimTopUp({ accountId: account, attempt: 4, cents })).rejects.toMatchObject({
        extensions: { code: 'BAD_USER_INPUT', field: 'cents' },
      });
    expect(await limits.viewOf(account)).toMatchObject({ topUpCents: 300 });
  });

  it('refuses a limit that is not whole cents from 0 to 1,000,000,000, changing nothing', async () => {
    for (const monthlyCents of [-1, 1.5, 1_000_000_001])
      await expect(limits.set({ accountId: account, monthlyCents })).rejects.toMatchObject({
        extensions: { code: 'BAD_USER_INPUT', field: 'monthlyCents' },
      });
    expect(await limits.viewOf(account)).toMatchObject({ monthlyCents: null });
    await limits.set({ accountId: account, monthlyCents: 0 });
    expect(await hold(1)).toMatchObject({ ok: false, reason: 'spend_limit', overageRoom: 0 });
    await limits.set({ accountId: account, monthlyCents: null });
    expect(await hold(1)).toMatchObject({ ok: true });
  });
});
