import { MikroORM } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { ormOptions } from '../../src/database/orm-options';
import { BillingCustomer } from '../../src/entities';
import { CustomerManager } from '../../src/services/accounts/customer-manager';
import { CustomerSync } from '../../src/services/accounts/customer-sync';
import { silentLogger } from '../../src/logging/logger';
import { StripeClient } from '../../src/services/stripe/stripe-client';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startTestEmulator, type TestEmulator, TEST_STRIPE_KEY } from '../support/emulator';

const GERMAN_ADDRESS = {
  line1: '1 Main St',
  line2: null,
  city: 'Berlin',
  state: null,
  postalCode: '10115',
  country: 'DE',
};

describe('CustomerManager against the Stripe emulator and PostgreSQL', () => {
  let database: TestDatabase;
  let orm: MikroORM;
  let stripeEmulator: TestEmulator;
  let customers: CustomerManager;
  let client: StripeClient;

  beforeAll(async () => {
    [database, stripeEmulator] = await Promise.all([createTestDatabase(), startTestEmulator()]);
    orm = await MikroORM.init(ormOptions({ url: database.url, poolMax: 25 }));
    client = new StripeClient(
      {
        secretKey: TEST_STRIPE_KEY,
        apiBase: stripeEmulator.url,
        webhookSecrets: [],
        timeoutMs: 10_000,
        maxNetworkRetries: 2,
        maxRequestsPerSecond: 1000,
      },
      silentLogger,
    );
    customers = new CustomerManager(client, silentLogger);
  });

  afterAll(async () => {
    await orm.close();
    await stripeEmulator.close();
    await database.drop();
  });

  async function stripeCustomersOf(accountId: string) {
    const all = await stripeEmulator.stripe.customers.list({ limit: 100 });
    return all.data.filter((customer) => customer.metadata.account_id === accountId);
  }

  it('creates the Stripe customer of an account, with its email, name and account id', async () => {
    const customer = await customers.ensure(orm.em.fork(), {
      accountId: 'acct_create',
      email: 'ann@x.io',
      name: 'Ann',
    });
    expect(customer.stripeCustomerId).toMatch(/^cus_/);
    const inStripe = await stripeEmulator.stripe.customers.retrieve(customer.stripeCustomerId as string);
    expect(inStripe).toMatchObject({
      email: 'ann@x.io',
      name: 'Ann',
      metadata: { account_id: 'acct_create' },
    });
    const again = await customers.ensure(orm.em.fork(), { accountId: 'acct_create', email: 'ann@x.io' });
    expect(again.stripeCustomerId).toBe(customer.stripeCustomerId);
  });

  it('makes exactly one Stripe customer under 20 concurrent requests', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        customers.ensure(orm.em.fork(), { accountId: 'acct_race', email: 'race@x.io' }),
      ),
    );
    expect(new Set(results.map((row) => row.stripeCustomerId)).size).toBe(1);
    expect(await stripeCustomersOf('acct_race')).toHaveLength(1);
    expect(await orm.em.fork().count(BillingCustomer, { accountId: 'acct_race' })).toBe(1);
  });

  it('adopts a Stripe customer that an earlier, crashed attempt created but never recorded', async () => {
    const orphan = await stripeEmulator.stripe.customers.create({
      email: 'o@x.io',
      metadata: { account_id: 'acct_orphan' },
    });
    const customer = await customers.ensure(orm.em.fork(), { accountId: 'acct_orphan', email: 'o@x.io' });
    expect(customer.stripeCustomerId).toBe(orphan.id);
    expect(await stripeCustomersOf('acct_orphan')).toHaveLength(1);
  });

  it('updates email, name and address in Stripe and in the database', async () => {
    await customers.ensure(orm.em.fork(), { accountId: 'acct_update', email: 'old@x.io' });
    const address = {
      line1: '1 Main St',
      line2: null,
      city: 'Berlin',
      state: null,
      postalCode: '10115',
      country: 'DE',
    };
    const updated = await customers.update(orm.em.fork(), 'acct_update', {
      email: 'new@x.io',
      name: 'New Name',
      address,
    });
    expect(updated).toMatchObject({ email: 'new@x.io', name: 'New Name', address });
    const inStripe = await stripeEmulator.stripe.customers.retrieve(updated.stripeCustomerId as string);
    expect(inStripe).toMatchObject({
      email: 'new@x.io',
      name: 'New Name',
      address: { city: 'Berlin', postal_code: '10115' },
    });
    const stored = await orm.em.fork().findOneOrFail(BillingCustomer, { accountId: 'acct_update' });
    expect(stored.address).toEqual(address);
  });

  it("stamps an update's answer by billing's clock: with Stripe's test time ahead of the wall, it still applies", async () => {
    // Webhook reads are stamped by billing's clock (ADR 0013), which follows Stripe's test time in development.
    const billingNow = new Date(Date.now() + 40 * 24 * 3600 * 1000);
    const ahead = new CustomerManager(client, silentLogger, null, { now: () => billingNow });
    await ahead.ensure(orm.em.fork(), { accountId: 'acct_clock_ahead', email: 'old@x.io' });
    const em = orm.em.fork();
    const row = await em.findOneOrFail(BillingCustomer, { accountId: 'acct_clock_ahead' });
    row.stripeUpdatedAt = new Date(billingNow.getTime() - 1000); // a webhook read a second ago, on that clock
    await em.flush();

    const updated = await ahead.update(orm.em.fork(), 'acct_clock_ahead', { email: 'new@x.io' });

    expect(updated.email).toBe('new@x.io');
    const stored = await orm.em.fork().findOneOrFail(BillingCustomer, { accountId: 'acct_clock_ahead' });
    expect(stored).toMatchObject({ email: 'new@x.io', stripeUpdatedAt: billingNow });
  });

  /**
   * A new customer's `customer.created` refetch that read Stripe while the address update was in flight (the
   * old details), processed after the update's start: its read is stamped later than the update's start, yet
   * older than the update's answer. `commitStale` says when it commits: during the call (before the update's
   * own write) or after the update returned. Billing's clock ticks a millisecond per reading, so no two stamps tie.
   */
  async function raceStaleCreated(accountId: string, commitStale: 'during' | 'after') {
    let tick = Date.now();
    const ticking = {
      now: () => {
        tick += 1;
        return new Date(tick);
      },
    };
    const manager = new CustomerManager(client, silentLogger, null, ticking);
    const sync = new CustomerSync(manager);
    const created = await manager.ensure(orm.em.fork(), { accountId, email: 'race@x.io' });
    const stripeCustomerId = created.stripeCustomerId as string;
    let stale: { customer: Stripe.Customer; observedAt: Date } | null = null;
    const applyStale = async () => {
      const read = stale as unknown as { customer: Stripe.Customer; observedAt: Date };
      await orm.em.fork().transactional((tx) => sync.applyCustomer(tx, read.customer, read.observedAt));
    };
    const call = client.call.bind(client);
    const spy = jest.spyOn(client, 'call').mockImplementation(async (operation, send, intent) => {
      if (operation === 'customers.update') {
        // The webhook handler's read: stamped as it starts, answered before Stripe applies the update.
        const observedAt = ticking.now();
        const customer = (await stripeEmulator.stripe.customers.retrieve(
          stripeCustomerId,
        )) as Stripe.Customer;
        stale = { customer, observedAt };
        if (commitStale === 'during') await applyStale();
      }
      return call(operation, send, intent);
    });
    try {
      await manager.update(orm.em.fork(), accountId, { address: GERMAN_ADDRESS });
    } finally {
      spy.mockRestore();
    }
    expect(stale).not.toBeNull();
    if (commitStale === 'after') await applyStale();
    return orm.em.fork().findOneOrFail(BillingCustomer, { accountId });
  }

  it('a customer.created refetch that raced an address update never puts the old address back', async () => {
    // Committed after the update wrote: it must not overwrite the newer local write.
    expect((await raceStaleCreated('acct_stale_after', 'after')).address).toEqual(GERMAN_ADDRESS);
    // Committed before the update wrote: the update's answer must still apply over it.
    expect((await raceStaleCreated('acct_stale_during', 'during')).address).toEqual(GERMAN_ADDRESS);
  });

  it('syncs email and name from the app user record, and only calls Stripe when they changed', async () => {
    await customers.ensure(orm.em.fork(), { accountId: 'acct_sync', email: 'a@x.io', name: 'A' });
    const synced = await customers.syncFromProfile(orm.em.fork(), {
      accountId: 'acct_sync',
      email: 'b@x.io',
      name: 'B',
    });
    expect(synced).toMatchObject({ email: 'b@x.io', name: 'B' });
    const inStripe = await stripeEmulator.stripe.customers.retrieve(synced.stripeCustomerId as string);
    expect(inStripe).toMatchObject({ email: 'b@x.io', name: 'B' });
  });

  it('deletes the Stripe customer and marks the row, and a later ensure creates a new one', async () => {
    const customer = await customers.ensure(orm.em.fork(), { accountId: 'acct_delete', email: 'd@x.io' });
    await customers.delete(orm.em.fork(), 'acct_delete');
    const inStripe = await stripeEmulator.stripe.customers.retrieve(customer.stripeCustomerId as string);
    expect(inStripe.deleted).toBe(true);
    const row = await orm.em.fork().findOneOrFail(BillingCustomer, { accountId: 'acct_delete' });
    expect(row.deletedAt).toBeInstanceOf(Date);
    await expect(customers.require(orm.em.fork(), 'acct_delete')).rejects.toMatchObject({
      extensions: { code: 'NOT_FOUND' },
    });

    const recreated = await customers.ensure(orm.em.fork(), { accountId: 'acct_delete', email: 'd@x.io' });
    expect(recreated.stripeCustomerId).toMatch(/^cus_/);
    expect(recreated.stripeCustomerId).not.toBe(customer.stripeCustomerId);
    expect(recreated.deletedAt).toBeNull();
  });
});
