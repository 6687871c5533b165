/**
 * `customer.delinquent`, as the Customer object in the SDK's types defines it: "Paying an invoice or marking it
 * uncollectible via the API will set this field to false. An automatic payment failure or passing the
 * `invoice.due_date` will set this field to `true`", each change with `customer.updated`.
 */
import type Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import { advanceClock, DAY, eventsOf, fixture, GRACE } from './billing-helpers';

let emu: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emu = started;
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
  await emu.control('/_emulator/billing/config', { retry_schedule: [DAY], final_status: 'past_due' });
  const f = await fixture(emu, 'pm_card_chargeCustomerFail');
  const sub = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.basic.id }],
    trial_end: FEB1,
  });
  expect(await delinquent(f.customer.id)).toBe(false);

  await advanceClock(stripe, f.clock.id, FEB1 + GRACE);
  expect(await delinquent(f.customer.id)).toBe(true);
  expect(await delinquencyChanges(f.customer.id)).toEqual([[true, { delinquent: false }]]);

  const card = await stripe.paymentMethods.attach('pm_card_visa', { customer: f.customer.id });
  await stripe.subscriptions.update(sub.id, { default_payment_method: card.id });
  await advanceClock(stripe, f.clock.id, FEB1 + GRACE + DAY);
  expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('active');
  expect(await delinquent(f.customer.id)).toBe(false);
  expect(await delinquencyChanges(f.customer.id)).toEqual([
    [true, { delinquent: false }],
    [false, { delinquent: true }],
  ]);
});

it('a manual payment that fails does not make the customer delinquent; paying any invoice clears it', async () => {
  const f = await fixture(emu, 'pm_card_chargeCustomerFail');
  const item = await stripe.invoiceItems.create({ customer: f.customer.id, amount: 2000, currency: 'usd' });
  const manual = await stripe.invoices.create({
    customer: f.customer.id,
    pending_invoice_items_behavior: 'include',
  });
  expect(manual.lines.data[0].parent?.invoice_item_details?.invoice_item).toBe(item.id);
  await expect(stripe.invoices.pay(manual.id)).rejects.toMatchObject({ statusCode: 402 });
  expect(await delinquent(f.customer.id)).toBe(false);
  expect((await stripe.invoices.retrieve(manual.id)).attempt_count).toBe(1);

  // Renewal failure (automatic) → delinquent; paying the unrelated manual invoice clears it.
  await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.basic.id }],
    trial_end: FEB1,
  });
  await advanceClock(stripe, f.clock.id, FEB1 + GRACE);
  expect(await delinquent(f.customer.id)).toBe(true);
  const card = await stripe.paymentMethods.attach('pm_card_visa', { customer: f.customer.id });
  const paid = await stripe.invoices.pay(manual.id, { payment_method: card.id });
  expect(paid.status).toBe('paid');
  // Manual tries after the first do not count (the Invoice object's `attempt_count`).
  expect(paid.attempt_count).toBe(1);
  expect(await delinquent(f.customer.id)).toBe(false);
});

it('marking an invoice uncollectible through the API clears delinquency', async () => {
  await emu.control('/_emulator/billing/config', { retry_schedule: [DAY], final_status: 'past_due' });
  const f = await fixture(emu, 'pm_card_chargeCustomerFail');
  const sub = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.basic.id }],
    trial_end: FEB1,
  });
  await advanceClock(stripe, f.clock.id, FEB1 + GRACE);
  expect(await delinquent(f.customer.id)).toBe(true);
  const open = (await stripe.invoices.list({ subscription: sub.id, status: 'open' })).data[0];
  await stripe.invoices.markUncollectible(open.id);
  expect(await delinquent(f.customer.id)).toBe(false);
});
