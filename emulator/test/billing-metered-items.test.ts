/**
 * Metered items beside a licensed one, as a plan with overage billing uses them:
 * - Stripe refuses a quantity on a metered price ("Quantity should not be specified where usage_type is
 *   `metered`. Remove quantity from `line_items[0]`"), in subscriptions, Checkout and schedule phases;
 * - a metered Checkout line item has no quantity and costs nothing up front;
 * - with flexible billing mode, removing a metered price bills its usage so far as an invoice item (unless
 *   proration_behavior=none), and a metered price added mid-period bills only usage from then on
 *   (https://docs.stripe.com/billing/subscriptions/usage-based/manage-billing-setup#update-prices-mid-cycle);
 * - metered items are never prorated.
 */
import type Stripe from 'stripe';
import { advanceClock, DAY, T0 } from './billing-helpers';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

const FEB1 = Date.UTC(2026, 1, 1) / 1000;

interface Setup {
  clock: Stripe.TestHelpers.TestClock;
  customer: Stripe.Customer;
  meter: Stripe.Billing.Meter;
  plan: Stripe.Price;
  pro: Stripe.Price;
  planYearly: Stripe.Price;
  overage: Stripe.Price;
  overageYearly: Stripe.Price;
}

async function setup(): Promise<Setup> {
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: T0 });
  const customer = await stripe.customers.create({
    test_clock: clock.id,
    payment_method: 'pm_card_visa',
    invoice_settings: { default_payment_method: 'pm_card_visa' },
  });
  const meter = await stripe.billing.meters.create({
    display_name: 'AI requests',
    event_name: 'ai_requests_overage',
    default_aggregation: { formula: 'sum' },
  });
  const product = await stripe.products.create({ name: 'Starter' });
  const usage = await stripe.products.create({ name: 'AI requests' });
  const licensed = (unit_amount: number, interval: 'month' | 'year') =>
    stripe.prices.create({ product: product.id, currency: 'usd', unit_amount, recurring: { interval } });
  const metered = (interval: 'month' | 'year') =>
    stripe.prices.create({
      product: usage.id,
      currency: 'usd',
      unit_amount: 1,
      recurring: { interval, usage_type: 'metered', meter: meter.id },
    });
  return {
    clock,
    customer,
    meter,
    plan: await licensed(1900, 'month'),
    pro: await licensed(4900, 'month'),
    planYearly: await licensed(19000, 'year'),
    overage: await metered('month'),
    overageYearly: await metered('year'),
  };
}

function report(s: Setup, value: number, timestamp: number, identifier?: string) {
  return stripe.billing.meterEvents.create({
    event_name: s.meter.event_name,
    payload: { stripe_customer_id: s.customer.id, value: String(value) },
    timestamp,
    ...(identifier ? { identifier } : {}),
  });
}

/** The customer subscribing to the plan with its metered overage price beside it, as a plan with overage does. */
function subscribeWithOverage(s: Setup): Promise<Stripe.Subscription> {
  return stripe.subscriptions.create({
    customer: s.customer.id,
    items: [{ price: s.plan.id, quantity: 1 }, { price: s.overage.id }],
  });
}

function itemOf(subscription: Stripe.Subscription, price: Stripe.Price): Stripe.SubscriptionItem {
  return subscription.items.data.find((item) => item.price.id === price.id) as Stripe.SubscriptionItem;
}

/** The subscription's invoice made for `reason` (the first one listed). */
async function invoiceOf(
  subscription: Stripe.Subscription,
  reason: Stripe.Invoice.BillingReason,
): Promise<Stripe.Invoice> {
  return (await stripe.invoices.list({ subscription: subscription.id })).data.find(
    (invoice) => invoice.billing_reason === reason,
  ) as Stripe.Invoice;
}

function linesOf(invoice: Stripe.Invoice, price: Stripe.Price): Stripe.InvoiceLineItem[] {
  return invoice.lines.data.filter((line) => line.pricing?.price_details?.price === price.id);
}

it('refuses a quantity on a metered price in subscriptions, Checkout and schedule phases', async () => {
  const s = await setup();
  const refused = async (call: Promise<unknown>, param: string, entry: string) => {
    await expect(call).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      param,
      message: `Quantity should not be specified where usage_type is \`metered\`. Remove quantity from \`${entry}\`.`,
    });
  };
  await refused(
    stripe.subscriptions.create({
      customer: s.customer.id,
      items: [
        { price: s.plan.id, quantity: 1 },
        { price: s.overage.id, quantity: 1 },
      ],
    }),
    'items[1][quantity]',
    'items[1]',
  );
  await refused(
    stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: s.customer.id,
      line_items: [
        { price: s.plan.id, quantity: 1 },
        { price: s.overage.id, quantity: 1 },
      ],
      success_url: 'https://example.com/ok',
    }),
    'line_items[1][quantity]',
    'line_items[1]',
  );
  const subscription = await subscribeWithOverage(s);
  const schedule = await stripe.subscriptionSchedules.create({ from_subscription: subscription.id });
  await refused(
    stripe.subscriptionSchedules.update(schedule.id, {
      phases: [
        {
          items: [{ price: s.plan.id, quantity: 1 }, { price: s.overage.id }],
          start_date: schedule.phases[0]?.start_date,
          end_date: schedule.phases[0]?.end_date,
        },
        {
          items: [
            { price: s.pro.id, quantity: 1 },
            { price: s.overage.id, quantity: 2 },
          ],
        },
      ],
    }),
    'phases[1][items][1][quantity]',
    'phases[1][items][1]',
  );
});

it('a metered Checkout line item has no quantity and costs nothing up front; the subscription carries it', async () => {
  const s = await setup();
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    customer: s.customer.id,
    line_items: [{ price: s.plan.id, quantity: 1 }, { price: s.overage.id }],
    success_url: 'https://example.com/ok',
  });
  expect(session.amount_total).toBe(1900);
  const items = await stripe.checkout.sessions.listLineItems(session.id);
  const meteredLine = items.data.find((line) => line.price?.id === s.overage.id);
  expect(meteredLine).toMatchObject({ quantity: null, amount_total: 0 });

  const completed = await emulator.raw('POST', `/_emulator/checkout/sessions/${session.id}/complete`, {
    body: new URLSearchParams({ card: '4242 4242 4242 4242' }).toString(),
    auth: null,
  });
  expect(completed.status).toBe(200);
  const subscription = await stripe.subscriptions.retrieve(String(completed.json.subscription));
  expect(subscription.items.data.map((item) => [item.price.id, item.quantity ?? null])).toEqual([
    [s.plan.id, 1],
    [s.overage.id, null],
  ]);
  const first = await stripe.invoices.retrieve(String(subscription.latest_invoice));
  expect(first.amount_paid).toBe(1900);
});

it('bills metered usage at the renewal and never prorates a metered item on an upgrade', async () => {
  const s = await setup();
  const subscription = await subscribeWithOverage(s);
  await advanceClock(stripe, s.clock.id, T0 + 10 * DAY);
  await report(s, 200, T0 + 5 * DAY);
  const plan = itemOf(subscription, s.plan);
  await stripe.subscriptions.update(subscription.id, {
    items: [{ id: plan.id, price: s.pro.id, quantity: 1 }],
    proration_behavior: 'always_invoice',
  });
  const upgrade = await invoiceOf(subscription, 'subscription_update');
  // Only the licensed item is prorated; the metered one keeps counting and is billed at the renewal.
  expect(linesOf(upgrade, s.overage)).toEqual([]);
  await advanceClock(stripe, s.clock.id, T0 + 21 * DAY);
  await report(s, 50, T0 + 20 * DAY);
  await advanceClock(stripe, s.clock.id, FEB1 + 60);
  const cycle = await invoiceOf(subscription, 'subscription_cycle');
  expect(linesOf(cycle, s.overage).map((line) => [line.quantity, line.amount])).toEqual([[250, 250]]);
  expect(linesOf(cycle, s.pro).map((line) => line.amount)).toEqual([4900]);
  expect(cycle.amount_due).toBe(4900 + 250);
});

it('removing a metered price bills its usage so far; one added mid-period bills only what follows', async () => {
  const s = await setup();
  const subscription = await subscribeWithOverage(s);
  await advanceClock(stripe, s.clock.id, T0 + 10 * DAY);
  await report(s, 120, T0 + 3 * DAY);
  const plan = itemOf(subscription, s.plan);
  const overage = itemOf(subscription, s.overage);
  // A month → year change: the monthly metered price goes, the yearly one comes, the cycle restarts now.
  const updated = await stripe.subscriptions.update(subscription.id, {
    items: [
      { id: plan.id, price: s.planYearly.id, quantity: 1 },
      { id: overage.id, deleted: true },
      { price: s.overageYearly.id },
    ],
    proration_behavior: 'always_invoice',
  });
  expect(updated.items.data.map((item) => item.price.id)).toEqual([s.planYearly.id, s.overageYearly.id]);
  const invoice = await stripe.invoices.retrieve(String(updated.latest_invoice));
  // The usage of the dropped monthly price up to the change is on the invoice the change made.
  expect(linesOf(invoice, s.overage).map((line) => [line.quantity, line.amount])).toEqual([[120, 120]]);
  expect(linesOf(invoice, s.planYearly).map((line) => line.amount)).toEqual([19000]);

  // The yearly price counts only from the change: the earlier event is not billed again at its renewal.
  await advanceClock(stripe, s.clock.id, T0 + 41 * DAY);
  await report(s, 30, T0 + 40 * DAY);
  const preview = await stripe.invoices.createPreview({
    customer: s.customer.id,
    subscription: subscription.id,
  });
  expect(linesOf(preview, s.overageYearly).map((line) => line.quantity)).toEqual([30]);
});

it('with proration_behavior=none a removed metered price bills nothing', async () => {
  const s = await setup();
  const subscription = await subscribeWithOverage(s);
  await advanceClock(stripe, s.clock.id, T0 + 10 * DAY);
  await report(s, 120, T0 + 3 * DAY);
  const overage = itemOf(subscription, s.overage);
  await stripe.subscriptions.update(subscription.id, {
    items: [{ id: overage.id, deleted: true }],
    proration_behavior: 'none',
  });
  const pending = await stripe.invoiceItems.list({ customer: s.customer.id, pending: true });
  expect(pending.data).toEqual([]);
});

it('a schedule phase that drops a metered price bills its usage at the boundary, once', async () => {
  const s = await setup();
  const subscription = await subscribeWithOverage(s);
  const schedule = await stripe.subscriptionSchedules.create({ from_subscription: subscription.id });
  const current = schedule.phases[0] as Stripe.SubscriptionSchedule.Phase;
  await stripe.subscriptionSchedules.update(schedule.id, {
    end_behavior: 'release',
    phases: [
      {
        items: [{ price: s.plan.id, quantity: 1 }, { price: s.overage.id }],
        start_date: current.start_date,
        end_date: current.end_date,
      },
      {
        // A plan without overage: no metered item in the new phase.
        items: [{ price: s.pro.id, quantity: 1 }],
        duration: { interval: 'month', interval_count: 1 },
        proration_behavior: 'create_prorations',
      },
    ],
  });
  await advanceClock(stripe, s.clock.id, T0 + 10 * DAY);
  await report(s, 75, T0 + 9 * DAY);
  await advanceClock(stripe, s.clock.id, FEB1 + 60);
  const cycle = await invoiceOf(subscription, 'subscription_cycle');
  expect(linesOf(cycle, s.overage).map((line) => [line.quantity, line.amount])).toEqual([[75, 75]]);
  expect(linesOf(cycle, s.pro).map((line) => line.amount)).toEqual([4900]);
  expect(cycle.amount_due).toBe(4900 + 75);
  const after = await stripe.subscriptions.retrieve(subscription.id);
  expect(after.items.data.map((item) => item.price.id)).toEqual([s.pro.id]);
});
