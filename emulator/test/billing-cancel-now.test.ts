/**
 * `DELETE /v1/subscriptions/:id` with and without `invoice_now` and `prorate`, to the cent. The SDK's
 * `SubscriptionCancelParams`: `invoice_now` "will generate a final invoice that invoices for any un-invoiced metered
 * usage and new/pending proration invoice items"; `prorate` "will generate a proration invoice item that credits
 * remaining unused time until the subscription period end"; both default to false, and then "pending prorations are
 * removed" (https://docs.stripe.com/api/subscriptions/cancel).
 *
 * One January (31 days) for every case: Pro $30.00/month from T0 plus $0.05 per API call (metered). On day 5 the
 * quantity goes to 2 (create_prorations), leaving two pending items:
 *   credit −round(3000 × 26/31) = −round(2516.13) = −2516, debit round(6000 × 26/31) = round(5032.26) = 5032.
 * 1000 calls are made on days 3 and 9 (600 + 400) → 1000 × 5 = 5000 cents of usage.
 * The cancel is on day 10, 21 of 31 days unused: the credit for 2 × Pro is −round(6000 × 21/31) = −round(4064.52) = −4065.
 */
import type Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import { advanceClock, DAY, eventsOf, fixture, T0 } from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

const CANCEL_AT = T0 + 10 * DAY;

async function tenDaysIn() {
  const setup = await fixture(emulator);
  const meter = await stripe.billing.meters.create({
    display_name: 'API calls',
    event_name: 'calls',
    default_aggregation: { formula: 'sum' },
  });
  const perCall = await stripe.prices.create({
    product: setup.product.id,
    currency: 'usd',
    unit_amount: 5,
    recurring: { interval: 'month', usage_type: 'metered', meter: meter.id },
  });
  const subscription = await stripe.subscriptions.create({
    customer: setup.customer.id,
    items: [{ price: setup.pro.id }, { price: perCall.id }],
  });
  const proItem = subscription.items.data.find((item) => item.price.id === setup.pro.id);
  await advanceClock(stripe, setup.clock.id, T0 + 5 * DAY);
  await stripe.subscriptions.update(subscription.id, {
    items: [{ id: proItem?.id, quantity: 2 }],
    proration_behavior: 'create_prorations',
    proration_date: T0 + 5 * DAY,
  });
  // A one-off item of the customer that is not a proration.
  const setupFee = await stripe.invoiceItems.create({
    customer: setup.customer.id,
    amount: 700,
    currency: 'usd',
  });
  await advanceClock(stripe, setup.clock.id, CANCEL_AT);
  for (const [value, day] of [
    [600, 3],
    [400, 9],
  ]) {
    await stripe.billing.meterEvents.create({
      event_name: 'calls',
      payload: { stripe_customer_id: setup.customer.id, value: String(value) },
      timestamp: T0 + day * DAY,
    });
  }
  const pendingAmounts = async () =>
    (await stripe.invoiceItems.list({ customer: setup.customer.id, pending: true })).data
      .map((i) => i.amount)
      .sort((a, b) => a - b);
  expect(await pendingAmounts()).toEqual([-2516, 700, 5032]);
  return { setup, subscription, perCall, setupFee, pendingAmounts };
}

async function finalInvoices(subscription: string): Promise<Stripe.Invoice[]> {
  return (await stripe.invoices.list({ subscription })).data.filter(
    (i) => i.billing_reason !== 'subscription_create',
  );
}

it('invoice_now and prorate: one final invoice, charged now, with usage, pending items and the credit', async () => {
  const { subscription, perCall, pendingAmounts } = await tenDaysIn();
  const canceled = await stripe.subscriptions.cancel(subscription.id, { invoice_now: true, prorate: true });
  expect(canceled).toMatchObject({ status: 'canceled', ended_at: CANCEL_AT });
  const [final] = await finalInvoices(subscription.id);
  expect(final.status).toBe('paid');
  expect(final.period_start).toBe(T0);
  expect(final.period_end).toBe(CANCEL_AT);
  const usage = final.lines.data.find((l) => l.pricing?.price_details?.price === perCall.id);
  expect(usage).toMatchObject({ quantity: 1000, amount: 5000, period: { start: T0, end: CANCEL_AT } });
  expect(final.lines.data.map((l) => l.amount).sort((a, b) => a - b)).toEqual([
    -4065, -2516, 700, 5000, 5032,
  ]);
  // 5000 − 2516 + 5032 + 700 − 4065
  expect(final.amount_paid).toBe(4151);
  expect(await pendingAmounts()).toEqual([]);
});

it('invoice_now alone: the final invoice has the usage and the pending items, no credit', async () => {
  const { subscription } = await tenDaysIn();
  await stripe.subscriptions.cancel(subscription.id, { invoice_now: true });
  const [final] = await finalInvoices(subscription.id);
  expect(final.lines.data.map((l) => l.amount).sort((a, b) => a - b)).toEqual([-2516, 700, 5000, 5032]);
  expect(final.amount_paid).toBe(8216);
});

it('prorate alone: the credit joins the pending items for a later invoice; the usage is not billed', async () => {
  const { subscription, pendingAmounts } = await tenDaysIn();
  await stripe.subscriptions.cancel(subscription.id, { prorate: true });
  expect(await finalInvoices(subscription.id)).toEqual([]);
  expect(await pendingAmounts()).toEqual([-4065, -2516, 700, 5032]);
});

it('neither flag: no final invoice, no credit, the pending prorations removed, other pending items kept', async () => {
  const { subscription, setupFee, pendingAmounts } = await tenDaysIn();
  await stripe.subscriptions.cancel(subscription.id);
  expect(await finalInvoices(subscription.id)).toEqual([]);
  expect(await pendingAmounts()).toEqual([700]);
  const deleted = await eventsOf(stripe, 'invoiceitem.deleted');
  expect(deleted.map((e) => (e.data.object as Stripe.InvoiceItem).amount).sort((a, b) => a - b)).toEqual([
    -2516, 5032,
  ]);
  expect((await stripe.invoiceItems.retrieve(setupFee.id)).invoice).toBeNull();
});
