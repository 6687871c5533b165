/** Customers: CRUD, list filters (test clocks hidden), search, payment methods, sources. */
import Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';

let emulator: TestEmulator;
let stripe: Stripe;
useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

test('create returns the endive customer shape', async () => {
  const c = await stripe.customers.create({
    email: 'a@x.test',
    name: 'Ann',
    description: 'd',
    phone: '+1555',
    address: { line1: '1 Main', city: 'X', country: 'US' },
    preferred_locales: ['en'],
  });
  expect(c.id).toMatch(/^cus_[0-9A-Za-z]{14}$/);
  expect(c).toMatchObject({
    object: 'customer',
    email: 'a@x.test',
    name: 'Ann',
    balance: 0,
    livemode: false,
    delinquent: false,
    test_clock: null,
    default_source: null,
    invoice_settings: { default_payment_method: null, footer: null },
    address: { line1: '1 Main', city: 'X', country: 'US', line2: null },
    preferred_locales: ['en'],
  });
  expect(c.invoice_prefix).toMatch(/^[0-9A-Z]{8}$/);
  // Includable lists are absent unless expanded.
  expect(c.subscriptions).toBeUndefined();
  const expanded = (await stripe.customers.retrieve(c.id, {
    expand: ['subscriptions', 'sources'],
  })) as Stripe.Customer;
  expect(expanded.subscriptions).toMatchObject({ object: 'list', data: [] });
  expect(expanded.sources).toMatchObject({ object: 'list', data: [] });
});

test('update, delete, and retrieving a deleted customer', async () => {
  const c = await stripe.customers.create({ email: 'a@x.test' });
  const u = await stripe.customers.update(c.id, { name: 'New', invoice_settings: { footer: 'thanks' } });
  expect(u.name).toBe('New');
  expect(u.invoice_settings.footer).toBe('thanks');
  // A rejected update changes nothing (no half-applied fields).
  await expect(
    stripe.customers.update(c.id, {
      email: 'half@x.test',
      tax_exempt: 'bogus' as Stripe.CustomerUpdateParams.TaxExempt,
    }),
  ).rejects.toMatchObject({ statusCode: 400 });
  expect(((await stripe.customers.retrieve(c.id)) as Stripe.Customer).email).toBe('a@x.test');
  const d = await stripe.customers.del(c.id);
  expect(d).toMatchObject({ id: c.id, object: 'customer', deleted: true });
  const again = await stripe.customers.retrieve(c.id);
  expect(again.deleted).toBe(true);
  await expect(stripe.customers.update(c.id, { name: 'x' })).rejects.toMatchObject({
    statusCode: 404,
    message: `No such customer: '${c.id}'`,
  });
  const types = (await stripe.events.list()).data.map((e) => e.type);
  expect(types).toEqual(['customer.deleted', 'customer.updated', 'customer.created']);
});

test('list by email; customers on a test clock only with test_clock', async () => {
  const a = await stripe.customers.create({ email: 'same@x.test' });
  await stripe.customers.create({ email: 'other@x.test' });
  emulator.store.put('test_helpers.test_clock', {
    id: 'clock_test1',
    object: 'test_helpers.test_clock',
    created: 1700000000,
    deletes_after: 1700000000 + 30 * 86_400,
    frozen_time: 1700000000,
    livemode: false,
    name: null,
    status: 'ready',
    status_details: {},
  });
  const onClock = await stripe.customers.create({ email: 'same@x.test', test_clock: 'clock_test1' });
  expect(onClock.created).toBe(1700000000);
  expect(onClock.test_clock).toBe('clock_test1');
  const byEmail = await stripe.customers.list({ email: 'same@x.test' });
  expect(byEmail.data.map((c) => c.id)).toEqual([a.id]);
  const clocked = await stripe.customers.list({ test_clock: 'clock_test1' });
  expect(clocked.data.map((c) => c.id)).toEqual([onClock.id]);
  await expect(stripe.customers.create({ test_clock: 'clock_missing' })).rejects.toMatchObject({
    statusCode: 404,
  });
});

test('payment_method and invoice_settings[default_payment_method] naming pm_card_visa are ONE new pm', async () => {
  const c = await stripe.customers.create({
    payment_method: 'pm_card_visa',
    invoice_settings: { default_payment_method: 'pm_card_visa' },
  });
  const paymentMethodId = c.invoice_settings.default_payment_method as string;
  expect(paymentMethodId).toMatch(/^pm_/);
  expect(paymentMethodId).not.toBe('pm_card_visa');
  const pms = await stripe.customers.listPaymentMethods(c.id);
  expect(pms.data.map((p) => p.id)).toEqual([paymentMethodId]);
  expect(pms.data[0].customer).toBe(c.id);
  const types = (await stripe.events.list()).data.map((e) => e.type).reverse();
  expect(types).toEqual(['customer.created', 'payment_method.attached']);
  // A default pm that is not attached is refused.
  const err = (await stripe.customers
    .create({ invoice_settings: { default_payment_method: 'pm_card_visa' } })
    .catch((e: unknown) => e)) as Stripe.errors.StripeError;
  expect(err.statusCode).toBe(400);
  expect(err.param).toBe('invoice_settings[default_payment_method]');
});

test('a declining card cannot be attached at create; nothing is created', async () => {
  const err = await stripe.customers
    .create({ payment_method: 'pm_card_chargeDeclined' })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
  expect((err as Stripe.errors.StripeCardError).decline_code).toBe('generic_decline');
  expect((await stripe.customers.list()).data).toHaveLength(0);
});

test('search by email and metadata', async () => {
  await stripe.customers.create({ email: 'one@x.test', metadata: { account: 'A1' } });
  const b = await stripe.customers.create({ email: 'two@x.test', metadata: { account: 'A2' } });
  const r = await stripe.customers.search({ query: "metadata['account']:'A2'" });
  expect(r.data.map((c) => c.id)).toEqual([b.id]);
  expect(r.url).toBe('/v1/customers/search');
  const e = await stripe.customers.search({ query: "email:'TWO@x.test'" });
  expect(e.data.map((c) => c.id)).toEqual([b.id]);
});

test('sources: source=tok_visa creates a default card source (as the CLI sends)', async () => {
  const c = await stripe.customers.create({});
  const src = (await stripe.customers.createSource(c.id, { source: 'tok_visa' })) as Stripe.Card;
  expect(src.id).toMatch(/^card_/);
  expect(src.last4).toBe('4242');
  const again = (await stripe.customers.retrieve(c.id)) as Stripe.Customer;
  expect(again.default_source).toBe(src.id);
  const list = await stripe.customers.listSources(c.id);
  expect(list.data.map((s) => s.id)).toEqual([src.id]);
  await expect(stripe.customers.createSource(c.id, { source: 'tok_nope' })).rejects.toMatchObject({
    statusCode: 400,
  });
});
