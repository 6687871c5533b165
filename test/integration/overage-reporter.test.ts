/**
 * The overage reporter against real PostgreSQL and the Stripe emulator (the real SDK), with usage counters
 * written directly: deltas, deterministic identifiers, crash recovery, Stripe's duplicate answer, two reporters
 * at once, accounts without a Stripe customer, and overage that falls.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { StoredMeterEvent } from '../../emulator/src/resources/meter-events';
import { openDatabase, type Orm } from '../../src/database/database';
import { UsageCounter } from '../../src/entities';
import { silentLogger } from '../../src/services/logger';
import { loadPlanCatalog } from '../../src/services/plans/plan-catalog';
import { syncCatalog } from '../../src/services/stripe/catalog-sync';
import { StripeClient } from '../../src/services/stripe/stripe-client';
import { OverageReporter } from '../../src/services/usage/overage-reporter';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startTestEmulator, TEST_STRIPE_KEY, type TestEmulator } from '../support/emulator';
import { createCustomer } from '../support/factories';
import { waitUntil } from '../support/wait';

const catalog = loadPlanCatalog();
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

function stripeClient(): StripeClient {
  return new StripeClient(
    {
      secretKey: TEST_STRIPE_KEY,
      apiBase: emulator.url,
      webhookSecrets: [],
      timeoutMs: 10_000,
      // No SDK retries: a failure a test injects must reach the reporter.
      maxNetworkRetries: 0,
      maxRequestsPerSecond: 1000,
    },
    silentLogger,
  );
}

function reporter(options: { now?: () => Date; intervalMs?: number; closeLeadMs?: number } = {}) {
  return new OverageReporter({
    em: orm.em,
    stripe: stripeClient(),
    catalog,
    logger: silentLogger,
    intervalMs: options.intervalMs ?? 60_000,
    ...options,
  });
}

/** An account with a Stripe customer (in the emulator) and its billing_customer row. */
async function accountWithCustomer(em: EntityManager): Promise<{ accountId: string; customerId: string }> {
  const accountId = `acct_overage_${++accounts}`;
  const customer = await stripe.customers.create({ metadata: { account_id: accountId } });
  createCustomer(em, { accountId, stripeCustomerId: customer.id });
  await em.flush();
  return { accountId, customerId: customer.id };
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
    .all<StoredMeterEvent>('_meter_event')
    .filter((event) => event.payload.stripe_customer_id === customerId)
    .reverse();
}

function sent(customerId: string): Array<[string, string, string]> {
  return meterEvents(customerId).map((event) => [event.event_name, event.identifier, event.payload.value]);
}

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

  it('stamps a report sent just after its period ended with the period’s last second; older periods are left', async () => {
    const em = orm.em.fork();
    const { accountId, customerId } = await accountWithCustomer(em);
    const now = Date.now();
    const justEnded = await counter(em, accountId, {
      periodStart: new Date(now - 30 * DAY_MS),
      periodEnd: new Date(now - 10 * 60_000),
      used: 1010,
      peak: 1010,
    });
    await counter(em, accountId, {
      periodStart: new Date(now - 60 * DAY_MS),
      periodEnd: new Date(now - 30 * DAY_MS),
      used: 5000,
      peak: 5000,
    });

    await reporter().flush();
    expect(meterEvents(customerId).map((event) => [event.identifier, event.timestamp])).toEqual([
      [`ovg_${justEnded.id}_10`, Math.ceil(justEnded.periodEnd.getTime() / 1000) - 1],
    ]);
  });

  it('after a crash between marking a report pending and sending it, resends it with the same identifier and value first', async () => {
    const em = orm.em.fork();
    const { accountId, customerId } = await accountWithCustomer(em);
    // The state a crash leaves: 100 reported, a report raising it to 250 written but never sent; 400 by now.
    const row = await counter(em, accountId, {
      used: 1400,
      peak: 1400,
      overageReported: 100,
      overagePending: 250,
    });

    expect(await reporter().flush()).toMatchObject({ reported: 2, units: 300, failed: 0 });
    expect(sent(customerId)).toEqual([
      ['coditect_ai_requests', `ovg_${row.id}_250`, '150'],
      ['coditect_ai_requests', `ovg_${row.id}_400`, '150'],
    ]);
    expect(await reload(row.id)).toMatchObject({ overageReported: 400, overagePending: null });
  });

  it('keeps a report whose send failed pending and resends exactly it on the next pass', async () => {
    const em = orm.em.fork();
    const { accountId, customerId } = await accountWithCustomer(em);
    const row = await counter(em, accountId, { used: 1250, peak: 1250 });
    const reports = reporter();

    await failNextMeterEvents(1);
    expect(await reports.flush()).toMatchObject({ reported: 0, failed: 1 });
    expect(meterEvents(customerId)).toEqual([]);
    expect(await reload(row.id)).toMatchObject({ overageReported: 0, overagePending: 250 });

    // Usage grew meanwhile: the pending report still goes first, unchanged, then the rest.
    await update(row.id, { used: 1270, peak: 1270 });
    expect(await reports.flush()).toMatchObject({ reported: 2, units: 270 });
    expect(sent(customerId)).toEqual([
      ['coditect_ai_requests', `ovg_${row.id}_250`, '250'],
      ['coditect_ai_requests', `ovg_${row.id}_270`, '20'],
    ]);
  });

  it("treats Stripe's duplicate_meter_event as sent: an earlier send had landed", async () => {
    const em = orm.em.fork();
    const { accountId, customerId } = await accountWithCustomer(em);
    const row = await counter(em, accountId, { used: 1250, peak: 1250, overagePending: 250 });
    // The first send reached Stripe, then the process died before recording it.
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
    const before = emulator.emulator.store.all<StoredMeterEvent>('_meter_event').length;

    expect(await reporter().flush()).toMatchObject({ reported: 0, failed: 0 });
    expect(emulator.emulator.store.all<StoredMeterEvent>('_meter_event')).toHaveLength(before);
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
