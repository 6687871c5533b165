/**
 * The overage reporter against real PostgreSQL and the Stripe emulator (the real SDK), with usage counters
 * written directly: deltas, deterministic identifiers, when reports are stamped (late usage, yearly slices),
 * resends that repeat the first send, convergence after a crash before or after the send, Stripe's duplicate
 * answer, back-off behind the other reports, two reporters at once, accounts without a Stripe customer,
 * overage that falls, and flushing one account.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { COLLECTIONS, type StoredMeterEvent } from 'stripe-emulator';
import { openDatabase, type Orm } from '../../src/database/database';
import { type BillingCustomer, UsageCounter } from '../../src/entities';
import { BillingError } from '../../src/errors';
import { silentLogger } from '../../src/logging/logger';
import { loadPlanCatalog } from '../../src/services/plans/plan-catalog';
import { syncCatalog } from '../../src/catalog/catalog-sync';
import { StripeClient } from '../../src/services/stripe/stripe-client';
import { OverageReporter, type OverageReporterOptions } from '../../src/services/usage/overage-reporter';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startTestEmulator, TEST_STRIPE_KEY, type TestEmulator } from '../support/emulator';
import { createCustomer, createSubscription } from '../support/factories';
import { waitUntil } from '../support/wait';

const catalog = loadPlanCatalog();
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

let database: TestDatabase;
let orm: Orm;
let emulator: TestEmulator;
let stripe: Stripe;
let accounts = 0;

beforeAll(async () => {
  [database, emulator] = await Promise.all([createTestDatabase(), startTestEmulator()]);
  stripe = emulator.stripe;
  await syncCatalog(stripe, catalog);
  orm = await openDatabase({ url: database.url, poolMax: 5 });
});

afterAll(async () => {
  await orm?.close();
  await emulator?.close();
  await database?.drop();
});

const settings = {
  secretKey: TEST_STRIPE_KEY,
  webhookSecrets: [],
  timeoutMs: 10_000,
  // No SDK retries: a failure a test injects must reach the reporter.
  maxNetworkRetries: 0,
  maxRequestsPerSecond: 1000,
};

/** A StripeClient on the emulator that notes the idempotency key of every meter event it sends. */
class RecordingStripeClient extends StripeClient {
  readonly meterEventKeys: string[] = [];

  constructor() {
    super({ ...settings, apiBase: emulator.url }, silentLogger);
    this.sdk.on('request', (request: Stripe.RequestEvent) => {
      if (request.path === '/v1/billing/meter_events')
        this.meterEventKeys.push(String(request.idempotency_key));
    });
  }
}

/**
 * A process that dies the moment Stripe has answered its first call: the call reached Stripe, nothing after it
 * runs (the reporter never records it). Its pass never ends, as a dead process's would not.
 */
class DiesAfterSending extends RecordingStripeClient {
  override async call<T>(
    operation: string,
    send: (sdk: Stripe, options: Stripe.RequestOptions) => Promise<T>,
    intent?: { name: string; params?: unknown },
  ): Promise<T> {
    await super.call(operation, send, intent);
    return new Promise<T>(() => undefined);
  }
}

/** A clock the test moves; the emulator, which checks the timestamps, keeps the real time. */
class TestClock {
  offsetMs = 0;
  readonly now = (): Date => new Date(Date.now() + this.offsetMs);
}

function reporter(options: Partial<OverageReporterOptions> = {}) {
  return new OverageReporter({
    em: orm.em,
    stripe: new RecordingStripeClient(),
    catalog,
    logger: silentLogger,
    intervalMs: 60_000,
    ...options,
  });
}

/** An account with a Stripe customer (in the emulator) and its billing_customer row. */
async function accountWithCustomer(
  em: EntityManager,
): Promise<{ accountId: string; customerId: string; customer: BillingCustomer }> {
  const accountId = `acct_overage_${++accounts}`;
  const stripeCustomer = await stripe.customers.create({ metadata: { account_id: accountId } });
  const customer = createCustomer(em, { accountId, stripeCustomerId: stripeCustomer.id });
  await em.flush();
  return { accountId, customerId: stripeCustomer.id, customer };
}

/** Our row of the account's subscription, in the billing period `[start, end)` (ms from now). */
async function subscriptionRow(
  em: EntityManager,
  customer: BillingCustomer,
  interval: 'month' | 'year',
  startMs: number,
  endMs: number,
): Promise<void> {
  const now = Date.now();
  createSubscription(em, customer, {
    interval,
    currentPeriodStart: new Date(now + startMs),
    currentPeriodEnd: new Date(now + endMs),
  });
  await em.flush();
}

/** A starter-like ai_requests counter of the current period: 1,000 included, overage billed. */
async function counter(
  em: EntityManager,
  accountId: string,
  overrides: Partial<UsageCounter> = {},
): Promise<UsageCounter> {
  const now = Date.now();
  const row = em.create(UsageCounter, {
    accountId,
    metric: 'ai_requests',
    periodStart: new Date(now - 5 * DAY_MS),
    periodEnd: new Date(now + 25 * DAY_MS),
    used: 0,
    peak: 0,
    included: 1000,
    overLimit: 'bill_overage',
    ...overrides,
  });
  await em.flush();
  return row;
}

async function update(id: string, values: Partial<UsageCounter>): Promise<void> {
  await orm.em.fork().nativeUpdate(UsageCounter, { id }, values);
}

async function reload(id: string): Promise<UsageCounter> {
  return orm.em.fork().findOneOrFail(UsageCounter, { id });
}

/** What Stripe's meters received for a customer (the emulator's store: Stripe has no API to list events). */
function meterEvents(customerId: string): StoredMeterEvent[] {
  // The store lists newest first; reversed, in the order Stripe received them.
  return emulator.emulator.store
    .all(COLLECTIONS.meterEvent)
    .filter((event) => event.payload.stripe_customer_id === customerId)
    .reverse();
}

function sent(customerId: string): Array<[string, string, string]> {
  return meterEvents(customerId).map((event) => [event.event_name, event.identifier, event.payload.value]);
}

const unixSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

async function failNextMeterEvents(count: number): Promise<void> {
  const response = await fetch(`${emulator.url}/_emulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ status: 500, count, path: '/v1/billing/meter_events' }),
  });
  if (!response.ok) throw new Error(`fault injection failed: ${response.status}`);
}

describe('OverageReporter', () => {
  it('reports overage as deltas under identifiers made of the counter and the total', async () => {
    const em = orm.em.fork();
    const { accountId, customerId } = await accountWithCustomer(em);
    const row = await counter(em, accountId, { used: 1250, peak: 1250 });
    const reports = reporter();

    expect(await reports.flush()).toMatchObject({ reported: 1, units: 250, failed: 0 });
    expect(sent(customerId)).toEqual([['coditect_ai_requests', `ovg_${row.id}_250`, '250']]);
    expect(await reload(row.id)).toMatchObject({ overageReported: 250, overagePending: null });

    // Nothing new: nothing sent.
    expect(await reports.flush()).toMatchObject({ reported: 0 });
    expect(meterEvents(customerId)).toHaveLength(1);

    // 50 more: only the increase goes, named by the new total.
    await update(row.id, { used: 1300, peak: 1300 });
    expect(await reports.flush()).toMatchObject({ reported: 1, units: 50 });
    expect(sent(customerId)).toEqual([
      ['coditect_ai_requests', `ovg_${row.id}_250`, '250'],
      ['coditect_ai_requests', `ovg_${row.id}_300`, '50'],
    ]);
    expect(await reload(row.id)).toMatchObject({ overageReported: 300, overagePending: null });

    // The timestamp lies in the counter's period (now, here), so it lands on that period's invoice.
    for (const event of meterEvents(customerId)) {
      expect(event.timestamp * 1000).toBeGreaterThanOrEqual(row.periodStart.getTime());
      expect(event.timestamp * 1000).toBeLessThan(row.periodEnd.getTime());
    }
  });

  it('reports a gauge on its peak, to its own meter, and nothing for blocked, unlimited or unused rows', async () => {
    const em = orm.em.fork();
    const { accountId, customerId } = await accountWithCustomer(em);
    const storage = await counter(em, accountId, {
      metric: 'storage_mb',
      used: 900,
      peak: 1100,
      included: 1024,
    });
    await counter(em, accountId, { metric: 'seats', used: 9, peak: 9, included: 3, overLimit: 'block' });
    const unlimited = await accountWithCustomer(em);
    await counter(em, unlimited.accountId, { used: 5000, peak: 5000, included: null });
    const within = await accountWithCustomer(em);
    await counter(em, within.accountId, { used: 999, peak: 999 });

    await reporter().flush();
    // The peak (1,100), not the level now (900), is over the 1,024 MB included.
    expect(sent(customerId)).toEqual([['coditect_storage_mb_overage', `ovg_${storage.id}_76`, '76']]);
    expect(meterEvents(unlimited.customerId)).toEqual([]);
    expect(meterEvents(within.customerId)).toEqual([]);
  });

  it('stamps a period that just ended inside it while its renewal is a draft, then now; older than 35 days, not at all', async () => {
    const em = orm.em.fork();
    const now = Date.now();
    // Renewed 10 minutes ago: Stripe's renewal invoice is a draft that still takes the closed period's usage.
    const renewed = await accountWithCustomer(em);
    await subscriptionRow(em, renewed.customer, 'month', -10 * MINUTE_MS, 30 * DAY_MS);
    const justEnded = await counter(em, renewed.accountId, {
      periodStart: new Date(now - 30 * DAY_MS),
      periodEnd: new Date(now - 10 * MINUTE_MS),
      used: 1010,
      peak: 1010,
    });
    // Renewed 3 days ago: that invoice is made; stamped now, the overage goes on the next one.
    const invoiced = await accountWithCustomer(em);
    await subscriptionRow(em, invoiced.customer, 'month', -3 * DAY_MS, 27 * DAY_MS);
    const endedDaysAgo = await counter(em, invoiced.accountId, {
      periodStart: new Date(now - 33 * DAY_MS),
      periodEnd: new Date(now - 3 * DAY_MS),
      used: 1020,
      peak: 1020,
    });
    // Ended 36 days ago, in a billing period long invoiced: past anything Stripe would take.
    const tooOld = await accountWithCustomer(em);
    await subscriptionRow(em, tooOld.customer, 'month', -6 * DAY_MS, 24 * DAY_MS);
    const oldRow = await counter(em, tooOld.accountId, {
      periodStart: new Date(now - 66 * DAY_MS),
      periodEnd: new Date(now - 36 * DAY_MS),
      used: 5000,
      peak: 5000,
    });

    const before = unixSeconds(new Date());
    await reporter().flush();
    const after = unixSeconds(new Date());
    expect(meterEvents(renewed.customerId).map((event) => [event.identifier, event.timestamp])).toEqual([
      [`ovg_${justEnded.id}_10`, Math.ceil(justEnded.periodEnd.getTime() / 1000) - 1],
    ]);
    const late = meterEvents(invoiced.customerId);
    expect(late.map((event) => event.identifier)).toEqual([`ovg_${endedDaysAgo.id}_20`]);
    // Stamped the second before now (see reportTimestamp).
    expect(late[0]?.timestamp).toBeGreaterThanOrEqual(before - 1);
    expect(late[0]?.timestamp).toBeLessThanOrEqual(after);
    expect(meterEvents(tooOld.customerId)).toEqual([]);
    expect(await reload(oldRow.id)).toMatchObject({ overageReported: 0, overagePending: null });
  });

  it('reports the monthly slices of a yearly subscription while its Stripe year is open, inside the slice when Stripe takes it', async () => {
    const em = orm.em.fork();
    const now = Date.now();
    const { accountId, customerId, customer } = await accountWithCustomer(em);
    // Day 200 of the year: Stripe invoices its usage in 165 days.
    await subscriptionRow(em, customer, 'year', -200 * DAY_MS, 165 * DAY_MS);
    const lastMonth = await counter(em, accountId, {
      periodStart: new Date(now - 40 * DAY_MS),
      periodEnd: new Date(now - 10 * DAY_MS),
      used: 1010,
      peak: 1010,
    });
    // Ended 70 days ago: Stripe takes nothing stamped that far back; now is in the same year, billed the same.
    const monthsAgo = await counter(em, accountId, {
      periodStart: new Date(now - 100 * DAY_MS),
      periodEnd: new Date(now - 70 * DAY_MS),
      used: 1005,
      peak: 1005,
    });

    const before = unixSeconds(new Date());
    expect(await reporter().flush()).toMatchObject({ failed: 0 });
    const after = unixSeconds(new Date());
    const events = new Map(meterEvents(customerId).map((event) => [event.identifier, event]));
    expect([...events.keys()].sort()).toEqual([`ovg_${lastMonth.id}_10`, `ovg_${monthsAgo.id}_5`].sort());
    expect(events.get(`ovg_${lastMonth.id}_10`)?.timestamp).toBe(
      Math.ceil(lastMonth.periodEnd.getTime() / 1000) - 1,
    );
    const stampedNow = events.get(`ovg_${monthsAgo.id}_5`)?.timestamp ?? 0;
    expect(stampedNow).toBeGreaterThanOrEqual(before - 1);
    expect(stampedNow).toBeLessThanOrEqual(after);
  });

  it('after a crash between marking a report pending and sending it, sends it as it was written down, first', async () => {
    const em = orm.em.fork();
    const { accountId, customerId } = await accountWithCustomer(em);
    // The state a crash leaves: 100 reported, a report raising it to 250 written down two hours ago but never
    // sent; 400 by now.
    const firstStamp = new Date(Math.floor((Date.now() - 2 * HOUR_MS) / 1000) * 1000);
    const row = await counter(em, accountId, {
      used: 1400,
      peak: 1400,
      overageReported: 100,
      overagePending: 250,
      overagePendingTimestamp: firstStamp,
      overagePendingSince: firstStamp,
    });

    expect(await reporter().flush()).toMatchObject({ reported: 2, units: 300, failed: 0 });
    expect(sent(customerId)).toEqual([
      ['coditect_ai_requests', `ovg_${row.id}_250`, '150'],
      ['coditect_ai_requests', `ovg_${row.id}_400`, '150'],
    ]);
    // The written-down report kept its timestamp; the new one is stamped now.
    expect(meterEvents(customerId)[0]?.timestamp).toBe(unixSeconds(firstStamp));
    expect(await reload(row.id)).toMatchObject({
      overageReported: 400,
      overagePending: null,
      overagePendingTimestamp: null,
      overagePendingSince: null,
      overageAttempts: 0,
      overageNextAttemptAt: null,
    });
  });

  it('keeps a report whose send failed pending, waits its back-off, then resends it byte for byte: same timestamp, same key', async () => {
    const em = orm.em.fork();
    const { accountId, customerId } = await accountWithCustomer(em);
    const row = await counter(em, accountId, { used: 1250, peak: 1250 });
    const clock = new TestClock();
    const client = new RecordingStripeClient();
    const reports = reporter({ now: clock.now, stripe: client });

    clock.offsetMs = -4 * MINUTE_MS;
    await failNextMeterEvents(1);
    const failingFrom = clock.now().getTime();
    expect(await reports.flush()).toMatchObject({ reported: 0, failed: 1 });
    const failingUntil = clock.now().getTime();
    expect(meterEvents(customerId)).toEqual([]);
    const failed = await reload(row.id);
    expect(failed).toMatchObject({ overageReported: 0, overagePending: 250, overageAttempts: 1 });
    const firstStamp = failed.overagePendingTimestamp;
    // Tried again a minute after the first failure, not before.
    const nextAttempt = failed.overageNextAttemptAt?.getTime() ?? 0;
    expect(nextAttempt).toBeGreaterThanOrEqual(failingFrom + MINUTE_MS);
    expect(nextAttempt).toBeLessThanOrEqual(failingUntil + MINUTE_MS);

    clock.offsetMs = -3.5 * MINUTE_MS;
    expect(await reports.flush()).toMatchObject({ reported: 0, failed: 0 });
    expect(client.meterEventKeys).toHaveLength(1);

    // Usage grew meanwhile: the pending report still goes first, unchanged, then the rest.
    await update(row.id, { used: 1270, peak: 1270 });
    clock.offsetMs = 0;
    expect(await reports.flush()).toMatchObject({ reported: 2, units: 270, failed: 0 });
    expect(sent(customerId)).toEqual([
      ['coditect_ai_requests', `ovg_${row.id}_250`, '250'],
      ['coditect_ai_requests', `ovg_${row.id}_270`, '20'],
    ]);
    // Four minutes later, the resend is the first send again: its timestamp, so its idempotency key.
    expect(firstStamp).not.toBeNull();
    expect(meterEvents(customerId)[0]?.timestamp).toBe(unixSeconds(firstStamp as Date));
    expect(client.meterEventKeys).toHaveLength(3);
    expect(client.meterEventKeys[1]).toBe(client.meterEventKeys[0]);
    expect(client.meterEventKeys[2]).not.toBe(client.meterEventKeys[0]);
  });

  it('converges after a crash between the send and recording it: the resend gets Stripe’s first answer, or its duplicate refusal', async () => {
    for (const keyForgotten of [false, true]) {
      const em = orm.em.fork();
      const { accountId, customerId } = await accountWithCustomer(em);
      const row = await counter(em, accountId, { used: 1250, peak: 1250 });
      const clock = new TestClock();
      clock.offsetMs = -10 * MINUTE_MS;
      const dying = new DiesAfterSending();
      // Its pass never ends: the process is gone once Stripe has the event.
      void reporter({ now: clock.now, stripe: dying }).flush();
      await waitUntil(() => meterEvents(customerId).length === 1, 'the first send reached Stripe');
      expect(await reload(row.id)).toMatchObject({ overageReported: 0, overagePending: 250 });

      // Another instance, a minute later: the dead one's lease still holds the report.
      const client = new RecordingStripeClient();
      const survivor = reporter({ now: clock.now, stripe: client });
      clock.offsetMs = -9 * MINUTE_MS;
      expect(await survivor.flush()).toMatchObject({ reported: 0, failed: 0 });
      expect(client.meterEventKeys).toEqual([]);

      // Past the lease: sent again, the same request. Stripe replays its first answer to the key; once it has
      // forgotten the key (kept 24 hours), it refuses the identifier as a duplicate. Either way: sent, once.
      if (keyForgotten) emulator.emulator.emulator.idempotency.clear();
      clock.offsetMs = -4 * MINUTE_MS;
      expect(await survivor.flush()).toMatchObject({ reported: 1, units: 250, failed: 0 });
      expect(client.meterEventKeys).toEqual(dying.meterEventKeys);
      expect(sent(customerId)).toEqual([['coditect_ai_requests', `ovg_${row.id}_250`, '250']]);
      expect(await reload(row.id)).toMatchObject({ overageReported: 250, overagePending: null });
    }
  });

  it("treats Stripe's refusal of an identifier it already holds as sent: an earlier send had landed", async () => {
    const em = orm.em.fork();
    const { accountId, customerId } = await accountWithCustomer(em);
    const row = await counter(em, accountId, { used: 1250, peak: 1250, overagePending: 250 });
    // The first send reached Stripe (another key: an older version, or a key Stripe has forgotten), then the
    // process died before recording it.
    await stripe.billing.meterEvents.create({
      event_name: 'coditect_ai_requests',
      payload: { stripe_customer_id: customerId, value: '250' },
      identifier: `ovg_${row.id}_250`,
    });

    expect(await reporter().flush()).toMatchObject({ reported: 1, failed: 0 });
    expect(sent(customerId)).toEqual([['coditect_ai_requests', `ovg_${row.id}_250`, '250']]);
    expect(await reload(row.id)).toMatchObject({ overageReported: 250, overagePending: null });
  });

  it('two reporters at once report every counter once', async () => {
    const em = orm.em.fork();
    const rows: Array<{ row: UsageCounter; customerId: string }> = [];
    for (let n = 0; n < 12; n++) {
      const { accountId, customerId } = await accountWithCustomer(em);
      rows.push({
        row: await counter(em, accountId, { used: 1000 + n + 1, peak: 1000 + n + 1 }),
        customerId,
      });
    }
    const [first, second] = await Promise.all([reporter().flush(), reporter().flush()]);
    expect(first.failed + second.failed).toBe(0);

    for (const [n, { row, customerId }] of rows.entries()) {
      expect(sent(customerId)).toEqual([['coditect_ai_requests', `ovg_${row.id}_${n + 1}`, String(n + 1)]]);
      expect(await reload(row.id)).toMatchObject({ overageReported: n + 1, overagePending: null });
    }
  });

  it('skips accounts without a Stripe customer, leaving their counters as they are', async () => {
    const em = orm.em.fork();
    const noCustomerRow = await counter(em, 'acct_overage_without_customer', { used: 1500, peak: 1500 });
    createCustomer(em, { accountId: 'acct_overage_customer_not_made', stripeCustomerId: null });
    await em.flush();
    const notMadeRow = await counter(em, 'acct_overage_customer_not_made', { used: 1500, peak: 1500 });
    const before = emulator.emulator.store.all(COLLECTIONS.meterEvent).length;

    expect(await reporter().flush()).toMatchObject({ reported: 0, failed: 0 });
    expect(emulator.emulator.store.all(COLLECTIONS.meterEvent)).toHaveLength(before);
    for (const id of [noCustomerRow.id, notMadeRow.id]) {
      expect(await reload(id)).toMatchObject({ overageReported: 0, overagePending: null });
    }
  });

  it('never sends a negative report: overage that fell after an upgrade stays reported', async () => {
    const em = orm.em.fork();
    const { accountId, customerId } = await accountWithCustomer(em);
    const row = await counter(em, accountId, { used: 1250, peak: 1250 });
    const reports = reporter();
    await reports.flush();

    // An upgrade mid-period: 10,000 included now, so the overage so far is 0.
    await update(row.id, { included: 10_000, used: 1300, peak: 1300 });
    expect(await reports.flush()).toMatchObject({ reported: 0 });
    expect(await reload(row.id)).toMatchObject({ overageReported: 250, overagePending: null });

    // Past the new allowance by 300: only what exceeds the 250 already reported goes.
    await update(row.id, { used: 10_300, peak: 10_300 });
    await reports.flush();
    expect(sent(customerId)).toEqual([
      ['coditect_ai_requests', `ovg_${row.id}_250`, '250'],
      ['coditect_ai_requests', `ovg_${row.id}_300`, '50'],
    ]);
    expect(meterEvents(customerId).every((event) => Number(event.payload.value) > 0)).toBe(true);
  });

  it('puts a failing report behind the others and waits its back-off: stuck rows never hold the others back', async () => {
    const em = orm.em.fork();
    const now = Date.now();
    // Two rows that fail every time (seats have no metered price), of the oldest periods: first in line by age.
    const failing: UsageCounter[] = [];
    for (let n = 0; n < 2; n++) {
      const { accountId } = await accountWithCustomer(em);
      failing.push(
        await counter(em, accountId, {
          metric: 'seats',
          periodStart: new Date(now - 20 * DAY_MS),
          periodEnd: new Date(now + DAY_MS),
          used: 5,
          peak: 5,
          included: 3,
        }),
      );
    }
    const healthy: Array<{ row: UsageCounter; customerId: string }> = [];
    for (let n = 0; n < 2; n++) {
      const { accountId, customerId } = await accountWithCustomer(em);
      healthy.push({ row: await counter(em, accountId, { used: 1001, peak: 1001 }), customerId });
    }
    const clock = new TestClock();
    const reports = reporter({ now: clock.now, maxPerPass: 2 });
    try {
      clock.offsetMs = -10 * MINUTE_MS;
      expect(await reports.flush()).toMatchObject({ reported: 0, failed: 2 });
      for (const row of failing)
        expect(await reload(row.id)).toMatchObject({ overagePending: 2, overageAttempts: 1 });

      // Half a minute later the failing rows wait out their back-off: the others go.
      clock.offsetMs = -9.5 * MINUTE_MS;
      expect(await reports.flush()).toMatchObject({ reported: 2, failed: 0 });
      for (const { row, customerId } of healthy) {
        expect(sent(customerId)).toEqual([['coditect_ai_requests', `ovg_${row.id}_1`, '1']]);
      }

      // Due again, they still go behind a fresh report.
      const fresh = await accountWithCustomer(em);
      const freshRow = await counter(em, fresh.accountId, { used: 1002, peak: 1002 });
      clock.offsetMs = 0;
      expect(await reports.flush()).toMatchObject({ reported: 1, failed: 1 });
      expect(sent(fresh.customerId)).toEqual([['coditect_ai_requests', `ovg_${freshRow.id}_2`, '2']]);
      const attempts = await Promise.all(failing.map(async (row) => (await reload(row.id)).overageAttempts));
      expect(attempts.sort()).toEqual([1, 2]);
      // Each failure doubles the wait: two minutes after the second.
      const twice = await orm.em
        .fork()
        .findOneOrFail(UsageCounter, { id: failing.map((row) => row.id), overageAttempts: 2 });
      expect(twice.overageNextAttemptAt?.getTime()).toBeGreaterThanOrEqual(Date.now() + 2 * MINUTE_MS - 5000);
    } finally {
      // Left pending, they would fail the later tests' passes.
      await orm.em.fork().nativeDelete(UsageCounter, { id: failing.map((row) => row.id) });
    }
  });

  it('flushAccount reports every due counter of one account now, and fails (retryable) while one cannot be sent', async () => {
    const em = orm.em.fork();
    const { accountId, customerId } = await accountWithCustomer(em);
    const requests = await counter(em, accountId, { used: 1250, peak: 1250 });
    const storage = await counter(em, accountId, {
      metric: 'storage_mb',
      used: 1100,
      peak: 1100,
      included: 1024,
    });
    const other = await accountWithCustomer(em);
    const otherRow = await counter(em, other.accountId, { used: 1300, peak: 1300 });
    const reports = reporter();

    expect(await reports.flushAccount(accountId)).toMatchObject({ reported: 2, units: 250 + 76, failed: 0 });
    expect(sent(customerId).sort()).toEqual(
      [
        ['coditect_ai_requests', `ovg_${requests.id}_250`, '250'],
        ['coditect_storage_mb_overage', `ovg_${storage.id}_76`, '76'],
      ].sort(),
    );
    // Nobody else's.
    expect(meterEvents(other.customerId)).toEqual([]);
    expect(await reload(otherRow.id)).toMatchObject({ overageReported: 0, overagePending: null });

    // Stripe fails: the flush throws, so the caller does not close the period without the usage.
    await update(requests.id, { used: 1300, peak: 1300 });
    await failNextMeterEvents(1);
    const failure = await reports.flushAccount(accountId).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(BillingError);
    expect((failure as BillingError).extensions).toMatchObject({ code: 'STRIPE_ERROR', retryable: true });
    expect(await reload(requests.id)).toMatchObject({
      overageReported: 250,
      overagePending: 300,
      overageAttempts: 1,
    });

    // Tried again at once, back-off or not, the same report.
    expect(await reports.flushAccount(accountId)).toMatchObject({ reported: 1, units: 50, failed: 0 });
    expect(await reload(requests.id)).toMatchObject({ overageReported: 300, overagePending: null });
    expect(meterEvents(other.customerId)).toEqual([]);
    await reports.flush();
    expect(sent(other.customerId)).toEqual([['coditect_ai_requests', `ovg_${otherRow.id}_300`, '300']]);
  });

  it('runs once more shortly before the earliest open period closes, however long its interval', async () => {
    const em = orm.em.fork();
    const { accountId, customerId } = await accountWithCustomer(em);
    const now = Date.now();
    const row = await counter(em, accountId, {
      periodStart: new Date(now - 30 * DAY_MS),
      // Closes 31.5 s from now; with 30 s of lead the last pass is due in about 1.5 s.
      periodEnd: new Date(now + 31_500),
      used: 1001,
      peak: 1001,
    });
    const reports = reporter({ intervalMs: 3_600_000, closeLeadMs: 30_000 });
    reports.start();
    try {
      await waitUntil(
        () => meterEvents(customerId).length === 1,
        'the pass before the period closes reported',
        15_000,
      );
      expect(sent(customerId)).toEqual([['coditect_ai_requests', `ovg_${row.id}_1`, '1']]);
    } finally {
      await reports.stop();
    }
  });
});
