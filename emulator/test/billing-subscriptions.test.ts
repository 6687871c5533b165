/**
 * Subscription flows through the official SDK (host/port/protocol only), on test clocks so every
 * period and proration can be worked out by hand.
 */
import type Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import {
  advanceClock,
  DAY,
  eventsOf,
  eventTypes,
  fixture,
  GRACE,
  subscriptionIdOf,
  T0,
} from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

const FEB1 = Date.UTC(2026, 1, 1) / 1000;
const MAR1 = Date.UTC(2026, 2, 1) / 1000;

describe('create', () => {
  it('charges the first period and exposes periods on the items (endive shape)', async () => {
    const f = await fixture(emulator);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id, quantity: 2 }],
      expand: ['latest_invoice'],
    });
    expect(subscription.status).toBe('active');
    expect(subscription.items.data[0].current_period_start).toBe(T0);
    expect(subscription.items.data[0].current_period_end).toBe(FEB1);
    expect(subscription).not.toHaveProperty('current_period_end');
    const invoice = subscription.latest_invoice as Stripe.Invoice;
    expect(invoice.billing_reason).toBe('subscription_create');
    expect(invoice.status).toBe('paid');
    expect(invoice.amount_paid).toBe(2000);
    expect(subscriptionIdOf(invoice)).toBe(subscription.id);
    expect(invoice.hosted_invoice_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/invoice\/in_/);
    expect(invoice.number).toMatch(/-0001$/);
    const types = await eventTypes(
      stripe,
      (e) =>
        !e.type.startsWith('test_helpers') && !e.type.startsWith('product') && !e.type.startsWith('price'),
    );
    // Stripe's order (facts §4): subscription created (incomplete) → invoice → payment → updated (active)
    const from = types.indexOf('customer.subscription.created');
    expect(types.slice(from)).toEqual([
      'customer.subscription.created',
      'invoice.created',
      'invoice.finalized',
      'payment_intent.created',
      'charge.succeeded',
      'payment_intent.succeeded',
      'invoice.updated',
      'invoice.paid',
      'invoice.payment_succeeded',
      'invoice_payment.paid',
      'customer.subscription.updated',
    ]);
    const [updated] = await eventsOf(stripe, 'customer.subscription.updated');
    expect(updated.data.previous_attributes).toEqual({ status: 'incomplete' });
  });

  it('trial: $0 invoice, trial_will_end 3 days before, then active with a subscription_cycle invoice', async () => {
    const f = await fixture(emulator);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.pro.id }],
      trial_period_days: 14,
    });
    expect(subscription.status).toBe('trialing');
    expect(subscription.trial_end).toBe(T0 + 14 * DAY);
    const first = await stripe.invoices.retrieve(String(subscription.latest_invoice));
    expect(first.amount_due).toBe(0);
    expect(first.status).toBe('paid');

    await advanceClock(stripe, f.clock.id, T0 + 12 * DAY);
    const twe = await eventsOf(stripe, 'customer.subscription.trial_will_end');
    expect(twe).toHaveLength(1);
    expect(twe[0].created).toBe(T0 + 11 * DAY);
    expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('trialing');

    await advanceClock(stripe, f.clock.id, T0 + 15 * DAY);
    const after = await stripe.subscriptions.retrieve(subscription.id);
    expect(after.status).toBe('active');
    expect(after.items.data[0].current_period_start).toBe(T0 + 14 * DAY);
    const invoices = await stripe.invoices.list({ subscription: subscription.id });
    const cycle = invoices.data.find((i) => i.billing_reason === 'subscription_cycle');
    expect(cycle?.amount_paid).toBe(3000);
    expect(cycle?.status).toBe('paid');
  });

  it('trial without a payment method and missing_payment_method=cancel ends canceled', async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: T0 });
    const customer = await stripe.customers.create({ test_clock: clock.id });
    const product = await stripe.products.create({ name: 'X' });
    const price = await stripe.prices.create({
      product: product.id,
      currency: 'usd',
      unit_amount: 500,
      recurring: { interval: 'month' },
    });
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      trial_period_days: 7,
      trial_settings: { end_behavior: { missing_payment_method: 'cancel' } },
    });
    await advanceClock(stripe, clock.id, T0 + 8 * DAY);
    expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('canceled');
    expect(await eventsOf(stripe, 'customer.subscription.deleted')).toHaveLength(1);
  });

  it('default_incomplete: incomplete with a confirmation secret; confirming the intent activates it', async () => {
    const f = await fixture(emulator);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
      payment_behavior: 'default_incomplete',
      expand: ['latest_invoice.confirmation_secret'],
    });
    expect(subscription.status).toBe('incomplete');
    const invoice = subscription.latest_invoice as Stripe.Invoice;
    expect(invoice.status).toBe('open');
    const secret = invoice.confirmation_secret?.client_secret ?? '';
    expect(secret).toMatch(/^pi_.+_secret_/);
    const paymentIntentId = secret.split('_secret_')[0];
    await stripe.paymentIntents.confirm(paymentIntentId, { payment_method: 'pm_card_visa' });
    expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('active');
    expect((await stripe.invoices.retrieve(invoice.id)).status).toBe('paid');
  });

  it('error_if_incomplete with a declined card answers 402 and creates nothing', async () => {
    const f = await fixture(emulator, 'pm_card_chargeCustomerFail');
    await expect(
      stripe.subscriptions.create({
        customer: f.customer.id,
        items: [{ price: f.basic.id }],
        payment_behavior: 'error_if_incomplete',
      }),
    ).rejects.toMatchObject({ statusCode: 402, type: 'StripeCardError', code: 'card_declined' });
    expect((await stripe.subscriptions.list({ customer: f.customer.id, status: 'all' })).data).toHaveLength(
      0,
    );
  });

  it('allow_incomplete with a failing card stays incomplete and expires after 23 hours', async () => {
    const f = await fixture(emulator, 'pm_card_chargeCustomerFail');
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
    });
    expect(subscription.status).toBe('incomplete');
    await advanceClock(stripe, f.clock.id, T0 + 23 * 3600 + 1);
    const expired = await stripe.subscriptions.retrieve(subscription.id);
    expect(expired.status).toBe('incomplete_expired');
    expect((await stripe.invoices.retrieve(String(subscription.latest_invoice))).status).toBe('void');
  });
});

describe('upgrade with prorations (https://docs.stripe.com/billing/subscriptions/prorations)', () => {
  // Subscribed at Jan 1 00:00 to $10/month; upgraded to $30/month at Jan 11 00:00.
  // January has 31 days = 2 678 400 s; remaining = 21 days = 1 814 400 s.
  // Stripe prorates by the second: credit = round(1000 × 1814400 / 2678400) = round(677.419…) = 677
  // debit = round(3000 × 1814400 / 2678400) = round(2032.258…) = 2032; net due = 1355.
  const CHANGE = T0 + 10 * DAY;

  async function upgraded(behavior: 'create_prorations' | 'always_invoice' | 'none') {
    const f = await fixture(emulator);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
    });
    await advanceClock(stripe, f.clock.id, CHANGE);
    const preview = await stripe.invoices.createPreview({
      customer: f.customer.id,
      subscription: subscription.id,
      subscription_details: {
        items: [{ id: subscription.items.data[0].id, price: f.pro.id }],
        proration_behavior: behavior,
        proration_date: CHANGE,
      },
    });
    const updated = await stripe.subscriptions.update(subscription.id, {
      items: [{ id: subscription.items.data[0].id, price: f.pro.id }],
      proration_behavior: behavior,
      proration_date: CHANGE,
    });
    return { f, sub: updated, preview };
  }

  it('create_prorations: credit and debit invoice items, billed on the next invoice', async () => {
    const { f, sub: subscription, preview } = await upgraded('create_prorations');
    expect(subscription.items.data[0].price.id).toBe(f.pro.id);
    const items = await stripe.invoiceItems.list({ customer: f.customer.id, pending: true });
    const amounts = items.data.map((i) => i.amount).sort((a, b) => a - b);
    expect(amounts).toEqual([-677, 2032]);
    expect(items.data.every((i) => i.proration)).toBe(true);
    // Preview of the next invoice: the prorations plus February at the new price.
    expect(preview.amount_due).toBe(-677 + 2032 + 3000);
    // Its window looks back over January; February is on the licensed line.
    expect([preview.period_start, preview.period_end]).toEqual([T0, FEB1]);
    const licensed = preview.lines.data.find((l) => l.parent?.subscription_item_details?.proration === false);
    expect(licensed?.period).toEqual({
      start: FEB1,
      end: MAR1,
    });

    await advanceClock(stripe, f.clock.id, FEB1 + GRACE + 60);
    const invoice = (await stripe.invoices.list({ subscription: subscription.id })).data.find(
      (i) => i.billing_reason === 'subscription_cycle',
    );
    expect(invoice?.amount_paid).toBe(4355);
    expect(invoice?.lines.data.filter((l) => l.parent?.invoice_item_details?.proration)).toHaveLength(2);
    const evts = await eventTypes(stripe, (e) => e.type === 'invoiceitem.created');
    expect(evts).toHaveLength(2);
  });

  it('always_invoice: an invoice for the prorations now, finalized and paid', async () => {
    const { f, sub: subscription, preview } = await upgraded('always_invoice');
    expect(preview.amount_due).toBe(1355);
    const invoice = (await stripe.invoices.list({ subscription: subscription.id })).data.find(
      (i) => i.billing_reason === 'subscription_update',
    );
    expect(invoice?.status).toBe('paid');
    expect(invoice?.amount_paid).toBe(1355);
    expect((await stripe.invoiceItems.list({ customer: f.customer.id, pending: true })).data).toHaveLength(0);
  });

  it('none: only the price changes', async () => {
    const { f, sub: subscription } = await upgraded('none');
    expect(subscription.items.data[0].price.id).toBe(f.pro.id);
    expect((await stripe.invoiceItems.list({ customer: f.customer.id })).data).toHaveLength(0);
    const upd = (await eventsOf(stripe, 'customer.subscription.updated')).pop();
    expect(upd?.data.previous_attributes).toHaveProperty('items');
  });
});

describe('cancel', () => {
  it('cancel_at_period_end: updated now, deleted when the clock passes the period end', async () => {
    const f = await fixture(emulator);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
    });
    const upd = await stripe.subscriptions.update(subscription.id, { cancel_at_period_end: true });
    expect(upd.cancel_at_period_end).toBe(true);
    expect(upd.cancel_at).toBe(FEB1);
    const [ev] = (await eventsOf(stripe, 'customer.subscription.updated')).slice(-1);
    expect(ev.data.previous_attributes).toMatchObject({ cancel_at_period_end: false });
    await advanceClock(stripe, f.clock.id, FEB1 - 60);
    expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('active');
    await advanceClock(stripe, f.clock.id, FEB1 + 60);
    const done = await stripe.subscriptions.retrieve(subscription.id);
    expect(done.status).toBe('canceled');
    expect(done.ended_at).toBe(FEB1);
    expect(await eventsOf(stripe, 'customer.subscription.deleted')).toHaveLength(1);
    // No renewal invoice for a subscription that ended.
    expect((await stripe.invoices.list({ subscription: subscription.id })).data).toHaveLength(1);
  });

  it('cancel now with prorate leaves a credit for the unused time', async () => {
    const f = await fixture(emulator);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.pro.id }],
    });
    await advanceClock(stripe, f.clock.id, T0 + 10 * DAY);
    const canceled = await stripe.subscriptions.cancel(subscription.id, { prorate: true });
    expect(canceled.status).toBe('canceled');
    const items = await stripe.invoiceItems.list({ customer: f.customer.id, pending: true });
    // 3000 × 21/31 days = 2032.258… → 2032 credit
    expect(items.data.map((i) => i.amount)).toEqual([-2032]);
    expect(await eventsOf(stripe, 'customer.subscription.deleted')).toHaveLength(1);
    await expect(
      stripe.subscriptions.update(subscription.id, {
        items: [{ id: subscription.items.data[0].id, quantity: 2 }],
      }),
    ).rejects.toMatchObject({
      statusCode: 400,
    });
  });

  it('pause and resume', async () => {
    const f = await fixture(emulator);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
    });
    const paused = await stripe.subscriptions.pause(subscription.id);
    expect(paused.status).toBe('paused');
    await advanceClock(stripe, f.clock.id, T0 + 40 * DAY);
    expect((await stripe.invoices.list({ subscription: subscription.id })).data).toHaveLength(1);
    const resumed = await stripe.subscriptions.resume(subscription.id, {
      billing_cycle_anchor: { type: 'now' },
    });
    expect(resumed.status).toBe('active');
    expect(resumed.items.data[0].current_period_start).toBe(T0 + 40 * DAY);
    expect((await stripe.invoices.list({ subscription: subscription.id })).data).toHaveLength(2);
  });
});

describe('renewal', () => {
  it('renews every period with one subscription_cycle invoice, anchored on the day of month', async () => {
    const clock = await stripe.testHelpers.testClocks.create({
      frozen_time: Date.UTC(2026, 0, 31, 12) / 1000,
    });
    const customer = await stripe.customers.create({
      test_clock: clock.id,
      payment_method: 'pm_card_visa',
      invoice_settings: { default_payment_method: 'pm_card_visa' },
    });
    const product = await stripe.products.create({ name: 'Anchor' });
    const price = await stripe.prices.create({
      product: product.id,
      currency: 'usd',
      unit_amount: 700,
      recurring: { interval: 'month' },
    });
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
    });
    await advanceClock(stripe, clock.id, Date.UTC(2026, 2, 31, 13) / 1000);
    const s = await stripe.subscriptions.retrieve(subscription.id);
    // Jan 31 → Feb 28 → Mar 31 (https://docs.stripe.com/billing/subscriptions/billing-cycle)
    expect(s.items.data[0].current_period_start).toBe(Date.UTC(2026, 2, 31, 12) / 1000);
    const invoices = await stripe.invoices.list({ subscription: subscription.id });
    // Each invoice's window looks back one period (the first one's is its creation); the service periods are on
    // the lines (https://docs.stripe.com/api/invoices/object#invoice_object-period_end).
    const [jan31, feb28, mar31] = [
      Date.UTC(2026, 0, 31, 12),
      Date.UTC(2026, 1, 28, 12),
      Date.UTC(2026, 2, 31, 12),
    ].map((x) => x / 1000);
    const oldestFirst = [...invoices.data].reverse();
    expect(oldestFirst.map((i) => [i.period_start, i.period_end])).toEqual([
      [jan31, jan31],
      [jan31, feb28],
      [feb28, mar31],
    ]);
    expect(oldestFirst.map((i) => i.lines.data[0].period.start)).toEqual([jan31, feb28, mar31]);
    // The last renewal, created at 12:00, is finalized and paid at 13:00 after the grace period.
    expect(invoices.data.every((i) => i.status === 'paid')).toBe(true);
  });
});

describe('schedules', () => {
  it('downgrades at period end without proration, then releases', async () => {
    const f = await fixture(emulator);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.pro.id }],
    });
    const schedule = await stripe.subscriptionSchedules.create({ from_subscription: subscription.id });
    expect(schedule.phases).toHaveLength(1);
    expect(schedule.phases[0].end_date).toBe(FEB1);
    const updated = await stripe.subscriptionSchedules.update(schedule.id, {
      end_behavior: 'release',
      phases: [
        {
          items: [{ price: f.pro.id, quantity: 1 }],
          start_date: schedule.phases[0].start_date,
          end_date: schedule.phases[0].end_date,
        },
        { items: [{ price: f.basic.id, quantity: 1 }], duration: { interval: 'month', interval_count: 1 } },
      ],
    });
    expect(updated.phases[1].end_date).toBe(MAR1);
    expect((await stripe.subscriptions.retrieve(subscription.id)).schedule).toBe(schedule.id);

    await advanceClock(stripe, f.clock.id, FEB1 + GRACE + 60);
    const s = await stripe.subscriptions.retrieve(subscription.id);
    expect(s.items.data[0].price.id).toBe(f.basic.id);
    const feb = (await stripe.invoices.list({ subscription: subscription.id })).data.find(
      (i) => i.billing_reason === 'subscription_cycle' && i.period_end === FEB1,
    );
    expect(feb?.amount_paid).toBe(1000);
    expect((await stripe.invoiceItems.list({ customer: f.customer.id })).data).toHaveLength(0);

    await advanceClock(stripe, f.clock.id, MAR1 + 60);
    const released = await stripe.subscriptionSchedules.retrieve(schedule.id);
    expect(released.status).toBe('released');
    expect(released.released_subscription).toBe(subscription.id);
    const after = await stripe.subscriptions.retrieve(subscription.id);
    expect(after.schedule).toBeNull();
    expect(after.status).toBe('active');
  });

  it('accepts the legacy phases[][iterations] the CLI sends and can be canceled', async () => {
    const f = await fixture(emulator);
    const schedule = await stripe.subscriptionSchedules.create({
      customer: f.customer.id,
      start_date: 'now',
      end_behavior: 'cancel',
      phases: [
        {
          items: [{ price: f.basic.id, quantity: 1 }],
          iterations: 2,
        } as Stripe.SubscriptionScheduleCreateParams.Phase,
      ],
    });
    expect(schedule.phases[0].end_date).toBe(MAR1);
    const canceled = await stripe.subscriptionSchedules.cancel(schedule.id);
    expect(canceled.status).toBe('canceled');
    expect((await stripe.subscriptions.retrieve(String(schedule.subscription))).status).toBe('canceled');
  });
});

describe('subscription items and invoices', () => {
  it('adds, updates and deletes items through /v1/subscription_items', async () => {
    const f = await fixture(emulator);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
    });
    const other = await stripe.prices.create({
      product: f.product.id,
      currency: 'usd',
      unit_amount: 200,
      recurring: { interval: 'month' },
    });
    const setupIntent = await stripe.subscriptionItems.create({
      subscription: subscription.id,
      price: other.id,
      quantity: 3,
      proration_behavior: 'none',
    });
    expect(setupIntent.quantity).toBe(3);
    const upd = await stripe.subscriptionItems.update(setupIntent.id, {
      quantity: 5,
      proration_behavior: 'none',
    });
    expect(upd.quantity).toBe(5);
    expect((await stripe.subscriptionItems.list({ subscription: subscription.id })).data).toHaveLength(2);
    const del = await stripe.subscriptionItems.del(setupIntent.id, { proration_behavior: 'none' });
    expect(del.deleted).toBe(true);
    expect((await stripe.subscriptions.retrieve(subscription.id)).items.data).toHaveLength(1);
  });

  it('manual invoices: include pending items, finalize, pay with a failing card (402), void', async () => {
    const f = await fixture(emulator);
    await stripe.invoiceItems.create({
      customer: f.customer.id,
      amount: 2500,
      currency: 'usd',
      description: 'Setup',
    });
    const excluded = await stripe.invoices.create({ customer: f.customer.id });
    expect(excluded.lines.data).toHaveLength(0);
    await stripe.invoices.del(excluded.id);
    const invoice = await stripe.invoices.create({
      customer: f.customer.id,
      pending_invoice_items_behavior: 'include',
    });
    expect(invoice.status).toBe('draft');
    expect(invoice.amount_due).toBe(2500);
    const fin = await stripe.invoices.finalizeInvoice(invoice.id);
    expect(fin.status).toBe('open');
    expect(fin.number).toBeTruthy();
    await expect(
      stripe.invoices.pay(invoice.id, { payment_method: 'pm_card_chargeCustomerFail' }),
    ).rejects.toMatchObject({
      statusCode: 402,
      type: 'StripeCardError',
      decline_code: 'generic_decline',
    });
    const after = await stripe.invoices.retrieve(invoice.id);
    expect(after.status).toBe('open');
    expect(after.attempt_count).toBe(1);
    expect(await eventsOf(stripe, 'invoice.payment_failed')).toHaveLength(1);
    const lines = await stripe.invoices.listLineItems(invoice.id);
    expect(lines.data[0].amount).toBe(2500);
    const voided = await stripe.invoices.voidInvoice(invoice.id);
    expect(voided.status).toBe('void');
  });
});

describe('anchors, trials and collection', () => {
  it('a future billing_cycle_anchor bills a prorated first period, then full periods from the anchor', async () => {
    const f = await fixture(emulator);
    const anchor = T0 + 14 * DAY; // Jan 15
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
      billing_cycle_anchor: anchor,
    });
    expect(subscription.billing_cycle_anchor).toBe(anchor);
    expect(subscription.items.data[0].current_period_end).toBe(anchor);
    // Prorated by the second over the full period that ends at the anchor (Dec 15 → Jan 15 = 31 days):
    // 1000 × 14 days / 31 days = 451.61… → 452 cents.
    const first = await stripe.invoices.retrieve(String(subscription.latest_invoice));
    expect(first.amount_paid).toBe(452);
    await advanceClock(stripe, f.clock.id, anchor + 60);
    const s = await stripe.subscriptions.retrieve(subscription.id);
    expect(s.items.data[0].current_period_start).toBe(anchor);
    expect(s.items.data[0].current_period_end).toBe(Date.UTC(2026, 1, 15) / 1000);
  });

  it('trial_end=now on update ends the trial and invoices at once', async () => {
    const f = await fixture(emulator);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.pro.id }],
      trial_period_days: 30,
    });
    const upd = await stripe.subscriptions.update(subscription.id, { trial_end: 'now' });
    expect(upd.status).toBe('active');
    const paid = (await stripe.invoices.list({ subscription: subscription.id, status: 'paid' })).data.filter(
      (i) => i.amount_paid === 3000,
    );
    expect(paid).toHaveLength(1);
  });

  it('a trial shorter than three days sends trial_will_end at once', async () => {
    const f = await fixture(emulator);
    await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.pro.id }],
      trial_period_days: 1,
    });
    expect(await eventsOf(stripe, 'customer.subscription.trial_will_end')).toHaveLength(1);
  });

  it('send_invoice collection: active with an open, uncharged invoice due in days_until_due', async () => {
    const f = await fixture(emulator);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
      collection_method: 'send_invoice',
      days_until_due: 14,
    });
    expect(subscription.status).toBe('active');
    const invoice = await stripe.invoices.retrieve(String(subscription.latest_invoice));
    expect(invoice.status).toBe('open');
    expect(invoice.due_date).toBe(T0 + 14 * DAY);
    expect((await eventsOf(stripe, 'charge.succeeded')).length).toBe(0);
    const sent = await stripe.invoices.sendInvoice(invoice.id);
    expect(sent.status).toBe('open');
    expect(await eventsOf(stripe, 'invoice.sent')).toHaveLength(1);
  });

  it('a downgrade credit larger than the next invoice becomes customer balance', async () => {
    const f = await fixture(emulator);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.pro.id }],
    });
    // Downgrade right away, invoiced now: credit 3000 × 31/31 = 3000, debit 1000 → total −2000.
    const upd = await stripe.subscriptions.update(subscription.id, {
      items: [{ id: subscription.items.data[0].id, price: f.basic.id }],
      proration_behavior: 'always_invoice',
      proration_date: T0,
    });
    const invoice = (await stripe.invoices.list({ subscription: upd.id })).data.find(
      (i) => i.billing_reason === 'subscription_update',
    );
    expect(invoice?.total).toBe(-2000);
    expect(invoice?.amount_due).toBe(0);
    expect(invoice?.status).toBe('paid');
    const customer = (await stripe.customers.retrieve(f.customer.id)) as Stripe.Customer;
    expect(customer.balance).toBe(-2000);
    // The credit pays February's $10 and leaves $10 of credit.
    await advanceClock(stripe, f.clock.id, FEB1 + GRACE + 60);
    const feb = (await stripe.invoices.list({ subscription: subscription.id })).data.find(
      (i) => i.billing_reason === 'subscription_cycle',
    );
    expect(feb?.amount_due).toBe(0);
    expect(((await stripe.customers.retrieve(f.customer.id)) as Stripe.Customer).balance).toBe(-1000);
  });

  it('lists hide canceled subscriptions unless asked', async () => {
    const f = await fixture(emulator);
    const a = await stripe.subscriptions.create({ customer: f.customer.id, items: [{ price: f.basic.id }] });
    const b = await stripe.subscriptions.create({ customer: f.customer.id, items: [{ price: f.pro.id }] });
    await stripe.subscriptions.cancel(a.id);
    expect((await stripe.subscriptions.list({ customer: f.customer.id })).data.map((s) => s.id)).toEqual([
      b.id,
    ]);
    expect((await stripe.subscriptions.list({ customer: f.customer.id, status: 'all' })).data).toHaveLength(
      2,
    );
    expect(
      (await stripe.subscriptions.list({ customer: f.customer.id, status: 'canceled' })).data.map(
        (s) => s.id,
      ),
    ).toEqual([a.id]);
  });
});

it('rejects unknown top-level parameters as Stripe does', async () => {
  const r = await emulator.raw('POST', '/v1/subscriptions', { body: 'customer=cus_x&itemz[0][price]=p' });
  expect(r.status).toBe(400);
  expect(r.json).toMatchObject({ error: { code: 'parameter_unknown', param: 'itemz' } });
});

it('billing_cycle_anchor=now credits the unused time and bills a new full period now', async () => {
  const f = await fixture(emulator);
  const subscription = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.pro.id }],
  });
  await advanceClock(stripe, f.clock.id, T0 + 10 * DAY);
  const upd = await stripe.subscriptions.update(subscription.id, {
    billing_cycle_anchor: { type: 'now' },
    proration_date: T0 + 10 * DAY,
  });
  expect(upd.items.data[0].current_period_start).toBe(T0 + 10 * DAY);
  expect(upd.billing_cycle_anchor).toBe(T0 + 10 * DAY);
  // Credit: 3000 × 21/31 = 2032.26 → −2032; new full period 3000 → 968 charged now.
  const invoice = (await stripe.invoices.list({ subscription: subscription.id })).data.find(
    (i) => i.billing_reason === 'subscription_update',
  );
  expect(invoice?.amount_paid).toBe(968);
  expect(invoice?.lines.data.map((l) => l.amount).sort((a, b) => a - b)).toEqual([-2032, 3000]);
});

it("cancel_at accepts 'max_period_end' (the current period's end) and '' to clear", async () => {
  const f = await fixture(emulator);
  const subscription = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.basic.id }],
  });
  const set = await stripe.subscriptions.update(subscription.id, { cancel_at: 'max_period_end' });
  expect(set.cancel_at).toBe(FEB1);
  const cleared = await stripe.subscriptions.update(subscription.id, { cancel_at: '' });
  expect(cleared.cancel_at).toBeNull();
});

it('update with error_if_incomplete: a declined prorated charge fails the change and changes nothing', async () => {
  const f = await fixture(emulator);
  const subscription = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.basic.id }],
  });
  const bad = await stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer: f.customer.id });
  await stripe.subscriptions.update(subscription.id, { default_payment_method: bad.id });
  await advanceClock(stripe, f.clock.id, T0 + 10 * DAY);
  await expect(
    stripe.subscriptions.update(subscription.id, {
      items: [{ id: subscription.items.data[0].id, price: f.pro.id }],
      proration_behavior: 'always_invoice',
      payment_behavior: 'error_if_incomplete',
    }),
  ).rejects.toMatchObject({ statusCode: 402, code: 'card_declined' });
  const after = await stripe.subscriptions.retrieve(subscription.id);
  expect(after.items.data[0].price.id).toBe(f.basic.id);
  expect((await stripe.invoiceItems.list({ customer: f.customer.id })).data).toHaveLength(0);
});

it('cancelation settings on a schedule-managed subscription are refused until it is released', async () => {
  const f = await fixture(emulator);
  const subscription = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.pro.id }],
  });
  const schedule = await stripe.subscriptionSchedules.create({ from_subscription: subscription.id });
  await expect(
    stripe.subscriptions.update(subscription.id, { cancel_at_period_end: true }),
  ).rejects.toMatchObject({
    statusCode: 400,
  });
  await stripe.subscriptionSchedules.release(schedule.id);
  expect(
    (await stripe.subscriptions.update(subscription.id, { cancel_at_period_end: true })).cancel_at_period_end,
  ).toBe(true);
});
