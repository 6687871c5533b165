/**
 * `customer.delinquent`, as the Customer object in the SDK's types defines it: "Paying an invoice or marking it
 * uncollectible via the API will set this field to false. An automatic payment failure or passing the
 * `invoice.due_date` will set this field to `true`", each change with `customer.updated`.
 */
import type Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import { advanceClock, DAY, eventsOf, fixture, GRACE } from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

const FEB1 = Date.UTC(2026, 1, 1) / 1000;

async function delinquent(customerId: string): Promise<boolean | null | undefined> {
  return ((await stripe.customers.retrieve(customerId)) as Stripe.Customer).delinquent;
}

async function delinquencyChanges(customerId: string): Promise<unknown[]> {
  return (await eventsOf(stripe, 'customer.updated'))
    .filter((e) => (e.data.object as Stripe.Customer).id === customerId)
    .map((e) => [(e.data.object as Stripe.Customer).delinquent, e.data.previous_attributes]);
}

it('a failed renewal makes the customer delinquent; the retry that pays clears it', async () => {
  await emulator.control('/_emulator/billing/config', { retry_schedule: [DAY], final_status: 'past_due' });
  const setup = await fixture(emulator, 'pm_card_chargeCustomerFail');
  const subscription = await stripe.subscriptions.create({
    customer: setup.customer.id,
    items: [{ price: setup.basic.id }],
    trial_end: FEB1,
  });
  expect(await delinquent(setup.customer.id)).toBe(false);

  await advanceClock(stripe, setup.clock.id, FEB1 + GRACE);
  expect(await delinquent(setup.customer.id)).toBe(true);
  expect(await delinquencyChanges(setup.customer.id)).toEqual([[true, { delinquent: false }]]);

  const card = await stripe.paymentMethods.attach('pm_card_visa', { customer: setup.customer.id });
  await stripe.subscriptions.update(subscription.id, { default_payment_method: card.id });
  await advanceClock(stripe, setup.clock.id, FEB1 + GRACE + DAY);
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('active');
  expect(await delinquent(setup.customer.id)).toBe(false);
  expect(await delinquencyChanges(setup.customer.id)).toEqual([
    [true, { delinquent: false }],
    [false, { delinquent: true }],
  ]);
});

it('a manual payment that fails does not make the customer delinquent; paying any invoice clears it', async () => {
  const setup = await fixture(emulator, 'pm_card_chargeCustomerFail');
  const item = await stripe.invoiceItems.create({
    customer: setup.customer.id,
    amount: 2000,
    currency: 'usd',
  });
  const manual = await stripe.invoices.create({
    customer: setup.customer.id,
    pending_invoice_items_behavior: 'include',
  });
  expect(manual.lines.data[0].parent?.invoice_item_details?.invoice_item).toBe(item.id);
  await expect(stripe.invoices.pay(manual.id)).rejects.toMatchObject({ statusCode: 402 });
  expect(await delinquent(setup.customer.id)).toBe(false);
  expect((await stripe.invoices.retrieve(manual.id)).attempt_count).toBe(1);

  // Renewal failure (automatic) → delinquent; paying the unrelated manual invoice clears it.
  await stripe.subscriptions.create({
    customer: setup.customer.id,
    items: [{ price: setup.basic.id }],
    trial_end: FEB1,
  });
  await advanceClock(stripe, setup.clock.id, FEB1 + GRACE);
  expect(await delinquent(setup.customer.id)).toBe(true);
  const card = await stripe.paymentMethods.attach('pm_card_visa', { customer: setup.customer.id });
  const paid = await stripe.invoices.pay(manual.id, { payment_method: card.id });
  expect(paid.status).toBe('paid');
  // Manual tries after the first do not count (the Invoice object's `attempt_count`).
  expect(paid.attempt_count).toBe(1);
  expect(await delinquent(setup.customer.id)).toBe(false);
});

it('marking an invoice uncollectible through the API clears delinquency', async () => {
  await emulator.control('/_emulator/billing/config', { retry_schedule: [DAY], final_status: 'past_due' });
  const setup = await fixture(emulator, 'pm_card_chargeCustomerFail');
  const subscription = await stripe.subscriptions.create({
    customer: setup.customer.id,
    items: [{ price: setup.basic.id }],
    trial_end: FEB1,
  });
  await advanceClock(stripe, setup.clock.id, FEB1 + GRACE);
  expect(await delinquent(setup.customer.id)).toBe(true);
  const open = (await stripe.invoices.list({ subscription: subscription.id, status: 'open' })).data[0];
  await stripe.invoices.markUncollectible(open.id);
  expect(await delinquent(setup.customer.id)).toBe(false);
});
