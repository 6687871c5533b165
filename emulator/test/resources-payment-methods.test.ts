/** Payment methods: test ids and card numbers, attach/detach events, and charge outcomes. */
import Stripe from 'stripe';
import { chargeOutcome, createCardPaymentMethod } from '../src/resources/payment-methods';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';

let emulator: TestEmulator;
let stripe: Stripe;
useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

test('each use of a test id makes a NEW pm', async () => {
  const c = await stripe.customers.create({});
  const a = await stripe.paymentMethods.attach('pm_card_visa', { customer: c.id });
  const b = await stripe.paymentMethods.attach('pm_card_visa', { customer: c.id });
  expect(a.id).not.toBe(b.id);
  expect(a.id).toMatch(/^pm_[0-9A-Za-z]{24}$/);
  expect(a.card).toMatchObject({ brand: 'visa', last4: '4242', funding: 'credit', country: 'US' });
  const mc = await stripe.paymentMethods.attach('pm_card_mastercard', { customer: c.id });
  expect(mc.card?.brand).toBe('mastercard');
  const list = await stripe.paymentMethods.list({ customer: c.id, type: 'card' });
  expect(list.data.map((p) => p.id)).toEqual([mc.id, b.id, a.id]);
});

test('create with card[number] and card[token]; bad numbers are a 402 incorrect_number', async () => {
  const byNumber = await stripe.paymentMethods.create({
    type: 'card',
    card: { number: '4000000000009995', exp_month: 12, exp_year: 2034, cvc: '123' },
    billing_details: { name: 'Ann' },
  });
  expect(byNumber.card).toMatchObject({ last4: '9995', exp_month: 12, exp_year: 2034 });
  expect(byNumber.billing_details.name).toBe('Ann');
  expect(byNumber.customer).toBeNull();
  const byToken = await stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_visa' } });
  expect(byToken.card?.last4).toBe('4242');
  const bad = await stripe.paymentMethods
    .create({ type: 'card', card: { number: '4242424242424241', exp_month: 1, exp_year: 2035 } })
    .catch((e: unknown) => e);
  expect(bad).toBeInstanceOf(Stripe.errors.StripeCardError);
  expect((bad as Stripe.errors.StripeCardError).code).toBe('incorrect_number');
});

test('chargeOutcome per test card', async () => {
  const outcome = (number: string) =>
    chargeOutcome(emulator.emulator, createCardPaymentMethod(emulator.emulator, number).id);
  expect(outcome('4242424242424242')).toEqual({ ok: true });
  expect(outcome('4000000000000002')).toMatchObject({
    ok: false,
    code: 'card_declined',
    decline_code: 'generic_decline',
  });
  expect(outcome('4000000000009995')).toMatchObject({
    ok: false,
    code: 'card_declined',
    decline_code: 'insufficient_funds',
  });
  expect(outcome('4000000000000341')).toMatchObject({
    ok: false,
    code: 'card_declined',
    decline_code: 'generic_decline',
  });
  const c = await stripe.customers.create({});
  const fail = await stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer: c.id });
  expect(fail.card?.last4).toBe('0341');
  expect(chargeOutcome(emulator.emulator, fail.id)).toMatchObject({
    ok: false,
    decline_code: 'generic_decline',
  });
  const visa = await stripe.paymentMethods.attach('pm_card_visa', { customer: c.id });
  expect(chargeOutcome(emulator.emulator, visa.id)).toEqual({ ok: true });
  expect(chargeOutcome(emulator.emulator, 'pm_missing')).toMatchObject({ ok: false });
});

test('decline cards cannot be attached (402), 0341 can', async () => {
  const c = await stripe.customers.create({});
  for (const id of ['pm_card_chargeDeclined', 'pm_card_visa_chargeDeclined']) {
    const err = await stripe.paymentMethods.attach(id, { customer: c.id }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect((err as Stripe.errors.StripeCardError).decline_code).toBe('generic_decline');
  }
  const insufficient = await stripe.paymentMethods
    .create({ type: 'card', card: { number: '4000000000009995', exp_month: 1, exp_year: 2035 } })
    .then((paymentMethod) => stripe.paymentMethods.attach(paymentMethod.id, { customer: c.id }))
    .catch((e: unknown) => e);
  expect((insufficient as Stripe.errors.StripeCardError).decline_code).toBe('insufficient_funds');
  expect((await stripe.customers.listPaymentMethods(c.id)).data).toHaveLength(0);
});

test('attach/detach emit events; detaching the default pm clears it', async () => {
  const c = await stripe.customers.create({
    payment_method: 'pm_card_visa',
    invoice_settings: { default_payment_method: 'pm_card_visa' },
  });
  const paymentMethodId = c.invoice_settings.default_payment_method as string;
  const other = await stripe.customers.create({});
  await expect(stripe.paymentMethods.attach(paymentMethodId, { customer: other.id })).rejects.toMatchObject({
    statusCode: 400,
  });
  const detached = await stripe.paymentMethods.detach(paymentMethodId);
  expect(detached.customer).toBeNull();
  await expect(stripe.paymentMethods.detach(paymentMethodId)).rejects.toMatchObject({ statusCode: 400 });
  const after = (await stripe.customers.retrieve(c.id)) as Stripe.Customer;
  expect(after.invoice_settings.default_payment_method).toBeNull();
  const events = (await stripe.events.list()).data;
  const det = events.find((e) => e.type === 'payment_method.detached');
  expect(det?.data.previous_attributes).toEqual({ customer: c.id });
  expect(events.map((e) => e.type)).toContain('payment_method.attached');
  expect(events[0].type).toBe('customer.updated');
});

test('update needs an attached pm; retrieve and 404', async () => {
  const c = await stripe.customers.create({});
  const loose = await stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_mastercard' } });
  await expect(stripe.paymentMethods.update(loose.id, { metadata: { a: '1' } })).rejects.toMatchObject({
    statusCode: 400,
  });
  await stripe.paymentMethods.attach(loose.id, { customer: c.id });
  const upd = await stripe.paymentMethods.update(loose.id, { metadata: { a: '1' }, card: { exp_month: 3 } });
  expect(upd.metadata).toEqual({ a: '1' });
  expect(upd.card?.exp_month).toBe(3);
  expect((await stripe.paymentMethods.retrieve(loose.id)).id).toBe(loose.id);
  await expect(stripe.paymentMethods.retrieve('pm_nope')).rejects.toMatchObject({
    statusCode: 404,
    message: "No such PaymentMethod: 'pm_nope'",
  });
});
