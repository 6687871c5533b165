import fc from 'fast-check';
import type Stripe from 'stripe';
import { type Orm, openDatabase } from '../../src/database/database';
import { BillingCustomer, Subscription } from '../../src/entities';
import {
  BILLING_INTERVALS,
  type BillingInterval,
  SUBSCRIPTION_STATUSES,
  type SubscriptionStatus,
} from '../../src/entities/subscription.entity';
import { CustomerSync } from '../../src/services/accounts/customer-sync';
import { loadPlanCatalog } from '../../src/services/plans/plan-catalog';
import { SubscriptionSync } from '../../src/services/subscriptions/subscription-sync';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { createCustomer } from '../support/factories';

/**
 * The webhook path's one statement for a known subscription (`known-subscription-statement.ts`, issue 14) against
 * the ORM path it stands in for (`CustomerSync.ownerOfSubscription` + `SubscriptionSync.applyLocked`), on real
 * PostgreSQL: random stored rows (any status, plan, past-due start, scheduled and pending change, read time) and
 * random reads of Stripe (another customer, status, price, add-on items, schedule, pending update, a read older, as old or newer
 * than the row's) give the same answer (account, whether its plan may have changed) and leave the same row, column
 * for column. A rule changed on one side only fails here.
 */

let database: TestDatabase;
let orm: Orm;
const catalog = loadPlanCatalog();
const sync = new SubscriptionSync(catalog);
// `ownerOf` never updates a customer's details: the customer manager is not reached.
const customers = new CustomerSync({ applyStripeCustomer: () => undefined });
const OWNERS = {
  a: { accountId: 'acct_equivalence_a', stripeCustomerId: 'cus_equivalence_a' },
  b: { accountId: 'acct_equivalence_b', stripeCustomerId: 'cus_equivalence_b' },
} as const;
type Owner = keyof typeof OWNERS;
const BASE = Date.parse('2026-12-06T09:00:00.000Z');
const at = (seconds: number) => new Date(BASE + seconds * 1000);

beforeAll(async () => {
  database = await createTestDatabase();
  orm = await openDatabase({ url: database.url, poolMax: 2 }, { migrate: false });
  const em = orm.em.fork();
  for (const owner of Object.values(OWNERS)) createCustomer(em, owner);
  await em.flush();
});
afterAll(async () => {
  await orm.close(true);
  await database.drop();
});

const status = fc.constantFrom<SubscriptionStatus>(...SUBSCRIPTION_STATUSES);
const interval = fc.constantFrom<BillingInterval>(...BILLING_INTERVALS);
const planKey = fc.constantFrom('free', 'starter', 'professional');
const owner = fc.constantFrom<Owner>('a', 'b');
const moment = fc.integer({ min: 0, max: 4 }).map(at);
const ADDON_KEYS = ['extra_storage_10gb', 'priority_support'];

/** Our row before the event. */
const storedRow = fc.record({
  owner,
  status,
  planKey,
  interval,
  cancelAtPeriodEnd: fc.boolean(),
  pastDueSince: fc.option(moment),
  scheduleId: fc.option(fc.constant('sub_sched_stored')),
  scheduled: fc.option(fc.record({ planKey, interval, changeAt: moment })),
  // Add-ons the customer asked to remove at the period end (kept while the schedule and the item are there).
  addonRemovals: fc.subarray(ADDON_KEYS),
  // Add-ons whose units go down at the period end (kept while the schedule is there and the item has other units).
  addonUnitsAtPeriodEnd: fc.dictionary(fc.constantFrom(...ADDON_KEYS), fc.integer({ min: 1, max: 3 })),
  extraSeats: fc.nat({ max: 3 }),
  scheduledExtraSeats: fc.option(fc.nat({ max: 3 })),
  stripeUpdatedAt: fc.integer({ min: 1, max: 3 }).map(at),
});
type StoredRow = typeof storedRow extends fc.Arbitrary<infer Row> ? Row : never;

/** What the handler read from Stripe, and when. */
const stripeRead = fc.record({
  owner,
  status,
  lookupKey: fc.constantFrom(
    'price_starter_monthly',
    'price_starter_yearly',
    'price_professional_monthly',
    'price_professional_yearly',
    'price_not_ours',
  ),
  metadataPlan: fc.option(fc.constantFrom('starter', 'professional')),
  cancelAtPeriodEnd: fc.boolean(),
  cancelAt: fc.option(fc.nat({ max: 1000 })),
  canceledAt: fc.option(fc.nat({ max: 1000 })),
  endedAt: fc.option(fc.nat({ max: 1000 })),
  trial: fc.option(fc.record({ start: fc.nat({ max: 1000 }), end: fc.nat({ max: 1000 }) })),
  schedule: fc.constantFrom<'none' | 'id' | 'expanded'>('none', 'id', 'expanded'),
  pendingLookupKey: fc.option(fc.constantFrom('price_professional_monthly', 'price_starter_yearly')),
  // Add-on items beside the plan (ADR 0024), with the units bought.
  addons: fc.uniqueArray(
    fc.record({ key: fc.constantFrom(...ADDON_KEYS), quantity: fc.integer({ min: 1, max: 10 }) }),
    { selector: (addon) => addon.key, maxLength: 2 },
  ),
  /** The extra-seats item's quantity (ADR 0024), listed before the plan item as Stripe may. */
  extraSeats: fc.option(fc.integer({ min: 1, max: 3 })),
  observedAt: fc.integer({ min: 0, max: 4 }).map(at),
});
type StripeRead = typeof stripeRead extends fc.Arbitrary<infer Read> ? Read : never;

function priceOf(lookupKey: string): Stripe.Price {
  return {
    id: `price_id_${lookupKey}`,
    lookup_key: lookupKey === 'price_not_ours' ? null : lookupKey,
    recurring: { interval: lookupKey.endsWith('yearly') ? 'year' : 'month', usage_type: 'licensed' },
    metadata: {},
  } as unknown as Stripe.Price;
}

/** An add-on's monthly price, marked as the sync marks it. */
function addonPriceOf(key: string): Stripe.Price {
  return {
    id: `price_id_addon_${key}`,
    lookup_key: `price_addon_${key}_monthly`,
    currency: 'usd',
    unit_amount: key === 'priority_support' ? 2900 : 500,
    recurring: { interval: 'month', usage_type: 'licensed' },
    metadata: { coditect_addon: key },
  } as unknown as Stripe.Price;
}

function subscriptionOf(id: string, read: StripeRead): Stripe.Subscription {
  const seconds = Math.floor(BASE / 1000);
  const optionalTime = (value: number | null) => (value === null ? null : seconds + value);
  const schedule = { none: null, id: 'sub_sched_read', expanded: { id: 'sub_sched_read_expanded' } }[
    read.schedule
  ];
  const pending = read.pendingLookupKey
    ? {
        expires_at: seconds + 3600,
        subscription_items: [{ price: priceOf(read.pendingLookupKey) }],
      }
    : null;
  return {
    id,
    object: 'subscription',
    customer: OWNERS[read.owner].stripeCustomerId,
    status: read.status,
    metadata: read.metadataPlan ? { plan_key: read.metadataPlan } : {},
    items: {
      data: [
        ...(read.extraSeats
          ? [
              {
                price: {
                  id: 'price_id_seats',
                  lookup_key: 'price_professional_seat_monthly',
                  recurring: { interval: 'month', usage_type: 'licensed' },
                  metadata: { coditect_seats_for: 'professional' },
                },
                quantity: read.extraSeats,
              },
            ]
          : []),
        {
          price: priceOf(read.lookupKey),
          current_period_start: seconds - 86_400,
          current_period_end: seconds + 29 * 86_400,
        },
        ...read.addons.map((addon) => ({
          price: addonPriceOf(addon.key),
          quantity: addon.quantity,
          current_period_start: seconds - 86_400,
          current_period_end: seconds + 29 * 86_400,
        })),
      ],
    },
    cancel_at_period_end: read.cancelAtPeriodEnd,
    cancel_at: optionalTime(read.cancelAt),
    canceled_at: optionalTime(read.canceledAt),
    ended_at: optionalTime(read.endedAt),
    trial_start: read.trial ? seconds + read.trial.start : null,
    trial_end: read.trial ? seconds + read.trial.end : null,
    schedule,
    pending_update: pending,
  } as unknown as Stripe.Subscription;
}

async function storeRow(id: string, stored: StoredRow): Promise<void> {
  const em = orm.em.fork();
  const customer = await em.findOneOrFail(BillingCustomer, {
    accountId: OWNERS[stored.owner].accountId,
  });
  em.create(Subscription, {
    stripeSubscriptionId: id,
    customer,
    accountId: OWNERS[stored.owner].accountId,
    status: stored.status,
    planKey: stored.planKey,
    interval: stored.interval,
    cancelAtPeriodEnd: stored.cancelAtPeriodEnd,
    pastDueSince: stored.pastDueSince,
    scheduleId: stored.scheduleId,
    scheduledPlanKey: stored.scheduled?.planKey ?? null,
    scheduledInterval: stored.scheduled?.interval ?? null,
    scheduledChangeAt: stored.scheduled?.changeAt ?? null,
    addonRemovals: stored.addonRemovals,
    addonUnitsAtPeriodEnd: stored.addonUnitsAtPeriodEnd,
    extraSeats: stored.extraSeats,
    scheduledExtraSeats: stored.scheduledExtraSeats,
    stripeUpdatedAt: stored.stripeUpdatedAt,
    createdAt: at(0),
    updatedAt: at(0),
  });
  await em.flush();
}

/** Every column of the row but the ones that name it; `updated_at` as whether it moved. */
async function rowOf(id: string): Promise<Record<string, unknown>> {
  const [row] = await orm.em
    .fork()
    .execute<Array<Record<string, unknown>>>('select * from subscription where stripe_subscription_id = ?', [
      id,
    ]);
  const { id: _rowId, stripe_subscription_id: _id, updated_at: updatedAt, ...columns } = row;
  return { ...columns, written: new Date(updatedAt as string).getTime() !== at(0).getTime() };
}

let runs = 0;

it('writes what the ORM path writes and answers what it answers, for random rows and reads', async () => {
  let writes = 0;
  let provisions = 0;
  let removalsKept = 0;
  let unitsKept = 0;
  let scheduledReached = 0;
  await fc.assert(
    fc.asyncProperty(storedRow, stripeRead, async (stored, read) => {
      runs += 1;
      const [ormId, statementId] = [`sub_equivalence_orm_${runs}`, `sub_equivalence_sql_${runs}`];
      await storeRow(ormId, stored);
      await storeRow(statementId, stored);
      const viaOrm = await orm.em.fork().transactional(async (tx) => {
        const subscription = subscriptionOf(ormId, read);
        const customer = await customers.ownerOfSubscription(tx, subscription);
        const { entitlementsMayChange, changedAt } = await sync.applyLocked(
          tx,
          customer,
          subscription,
          read.observedAt,
        );
        return { accountId: customer.accountId, entitlementsMayChange, changedAt };
      });
      const viaStatement = await orm.em
        .fork()
        .transactional((tx) => sync.applyToKnownRow(tx, subscriptionOf(statementId, read), read.observedAt));
      expect(viaStatement).toEqual(viaOrm);
      const [ormRow, statementRow] = [await rowOf(ormId), await rowOf(statementId)];
      expect(statementRow).toEqual(ormRow);
      if (ormRow.written) writes += 1;
      if ((ormRow.addon_removals as string[]).length > 0) removalsKept += 1;
      if (Object.keys(ormRow.addon_units_at_period_end as object).length > 0) unitsKept += 1;
      if (viaOrm.entitlementsMayChange) provisions += 1;
      if (viaOrm.changedAt) scheduledReached += 1;
    }),
    { numRuns: 120 },
  );
  // Both branches were drawn: writes and stale reads, plan changes and none.
  expect(writes).toBeGreaterThan(10);
  expect(writes).toBeLessThan(runs);
  expect(provisions).toBeGreaterThan(10);
  expect(provisions).toBeLessThan(runs);
  // Add-on removals were both kept and settled.
  expect(removalsKept).toBeGreaterThan(5);
  expect(unitsKept).toBeGreaterThan(3);
  // A scheduled change was found reached (answered with its moment) in some draws.
  expect(scheduledReached).toBeGreaterThan(0);
}, 240_000);

it('answers null, writing nothing, for a customer or a subscription we do not store yet', async () => {
  const read: StripeRead = {
    owner: 'a',
    status: 'active',
    lookupKey: 'price_starter_monthly',
    metadataPlan: null,
    cancelAtPeriodEnd: false,
    cancelAt: null,
    canceledAt: null,
    endedAt: null,
    trial: null,
    schedule: 'none',
    pendingLookupKey: null,
    addons: [],
    extraSeats: null,
    observedAt: at(10),
  };
  const unknownRow = subscriptionOf('sub_equivalence_unknown', read);
  expect(await orm.em.fork().transactional((tx) => sync.applyToKnownRow(tx, unknownRow, at(10)))).toBeNull();
  await storeRow('sub_equivalence_foreign', {
    owner: 'a',
    status: 'past_due',
    planKey: 'starter',
    interval: 'month',
    cancelAtPeriodEnd: false,
    pastDueSince: null,
    extraSeats: 0,
    scheduledExtraSeats: null,
    scheduleId: null,
    scheduled: null,
    addonRemovals: [],
    addonUnitsAtPeriodEnd: {},
    stripeUpdatedAt: at(1),
  });
  const unknownCustomer = {
    ...subscriptionOf('sub_equivalence_foreign', read),
    customer: 'cus_equivalence_unknown',
  } as Stripe.Subscription;
  expect(
    await orm.em.fork().transactional((tx) => sync.applyToKnownRow(tx, unknownCustomer, at(10))),
  ).toBeNull();
  expect(await rowOf('sub_equivalence_foreign')).toMatchObject({ status: 'past_due', written: false });
  expect(await orm.em.fork().count(Subscription, { stripeSubscriptionId: 'sub_equivalence_unknown' })).toBe(
    0,
  );
});
