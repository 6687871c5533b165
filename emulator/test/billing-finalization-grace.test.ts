/**
 * A subscription's cycle invoice is a draft for the finalization grace period (1 hour by default), then finalized
 * and charged; usage reported in that hour for the closed period still lands on it
 * (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period: "During the finalization grace
 * period, you can continue to report usage for the previous billing period. During finalization, Stripe updates the
 * invoice to reflect the latest quantity"). First invoices are finalized at once
 * (https://docs.stripe.com/billing/invoices/subscription#new-subscription-invoices).
 */
import type Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import { advanceClock, DAY, eventsOf, eventTypes, fixture, GRACE, T0 } from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

const FEB1 = Date.UTC(2026, 1, 1) / 1000;

/** $10/month licensed plus $0.05 per API call, metered; a customer on a test clock at T0 with a card. */
async function meteredSubscription() {
  const setup = await fixture(emulator);
  const meter = await stripe.billing.meters.create({
    display_name: 'API calls',
    event_name: 'api_calls',
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
    items: [{ price: setup.basic.id }, { price: perCall.id }],
  });
  const report = (value: number, timestamp: number) =>
    stripe.billing.meterEvents.create({
      event_name: 'api_calls',
      payload: { stripe_customer_id: setup.customer.id, value: String(value) },
      timestamp,
    });
  return { setup, subscription, perCall, report };
}

async function cycleInvoice(subscription: string): Promise<Stripe.Invoice> {
  const invoices = await stripe.invoices.list({ subscription });
  const cycle = invoices.data.find((i) => i.billing_reason === 'subscription_cycle');
  if (!cycle) throw new Error('no subscription_cycle invoice');
  return cycle;
}

it('the first invoice is finalized and paid at once; the renewal waits an hour as a draft', async () => {
  const { setup, subscription } = await meteredSubscription();
  const first = await stripe.invoices.retrieve(String(subscription.latest_invoice));
  expect(first).toMatchObject({ status: 'paid', automatically_finalizes_at: null });
  expect(first.status_transitions.finalized_at).toBe(T0);

  await advanceClock(stripe, setup.clock.id, FEB1);
  const draft = await cycleInvoice(subscription.id);
  expect(draft).toMatchObject({ status: 'draft', created: FEB1, automatically_finalizes_at: FEB1 + GRACE });
  expect(draft.number).toBeNull();
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('active');

  await advanceClock(stripe, setup.clock.id, FEB1 + GRACE);
  const paid = await cycleInvoice(subscription.id);
  expect(paid).toMatchObject({ status: 'paid', automatically_finalizes_at: null, amount_paid: 1000 });
  expect(paid.status_transitions.finalized_at).toBe(FEB1 + GRACE);
});

it('usage for the closed period reported during the grace hour is billed on its invoice, to the cent', async () => {
  const { setup, subscription, perCall, report } = await meteredSubscription();
  await advanceClock(stripe, setup.clock.id, T0 + 20 * DAY);
  await report(100, T0 + 5 * DAY);
  await advanceClock(stripe, setup.clock.id, FEB1 + 30 * 60);
  const draft = await cycleInvoice(subscription.id);
  const usageLine = (invoice: Stripe.Invoice) =>
    invoice.lines.data.find((l) => l.pricing?.price_details?.price === perCall.id);
  expect(usageLine(draft)?.quantity).toBe(100);
  expect(draft.total).toBe(1000 + 100 * 5);

  // Half an hour into the grace period: 40 calls made on Jan 31 arrive late; 7 calls of February do not count here.
  await report(40, FEB1 - 120);
  await report(7, FEB1 + 60);
  await advanceClock(stripe, setup.clock.id, FEB1 + GRACE + 60);

  const paid = await cycleInvoice(subscription.id);
  expect(paid.status).toBe('paid');
  expect(usageLine(paid)).toMatchObject({ quantity: 140, amount: 700, period: { start: T0, end: FEB1 } });
  // $10.00 for February + 140 × $0.05 for January.
  expect(paid.amount_paid).toBe(1000 + 700);

  // Stripe's events: created at the period end; updated (the late usage), finalized and paid an hour later.
  const types = await eventTypes(stripe, (e) => e.created >= FEB1 && e.type.startsWith('invoice.'));
  expect(types).toEqual([
    'invoice.created',
    'invoice.updated',
    'invoice.finalized',
    'invoice.updated',
    'invoice.paid',
    'invoice.payment_succeeded',
  ]);
  const [lateUsage] = (await eventsOf(stripe, 'invoice.updated')).filter((e) => e.created === FEB1 + GRACE);
  expect(lateUsage.data.previous_attributes).toMatchObject({ total: 1500, amount_due: 1500 });
  expect((lateUsage.data.object as Stripe.Invoice).status).toBe('draft');
});

it('a renewal that fails is tried at finalization and retried on the schedule from there', async () => {
  await emulator.control('/_emulator/billing/config', { retry_schedule: [DAY], final_status: 'past_due' });
  const setup = await fixture(emulator, 'pm_card_chargeCustomerFail');
  const subscription = await stripe.subscriptions.create({
    customer: setup.customer.id,
    items: [{ price: setup.basic.id }],
    trial_end: FEB1,
  });
  await advanceClock(stripe, setup.clock.id, FEB1 + GRACE - 1);
  expect(await eventsOf(stripe, 'invoice.payment_failed')).toHaveLength(0);
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('active');
  await advanceClock(stripe, setup.clock.id, FEB1 + GRACE);
  const [failed] = await eventsOf(stripe, 'invoice.payment_failed');
  expect(failed.created).toBe(FEB1 + GRACE);
  expect((failed.data.object as Stripe.Invoice).next_payment_attempt).toBe(FEB1 + GRACE + DAY);
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('past_due');
});

it('the grace period is a setting: 0 finalizes and charges renewals at the period end', async () => {
  const config = await emulator.control('/_emulator/billing/config', { finalization_grace_seconds: 0 });
  expect(config.finalizationGraceSeconds).toBe(0);
  const { setup, subscription } = await meteredSubscription();
  await advanceClock(stripe, setup.clock.id, FEB1);
  expect(await cycleInvoice(subscription.id)).toMatchObject({ status: 'paid', amount_paid: 1000 });
  await expect(
    emulator.control('/_emulator/billing/config', { finalization_grace_seconds: -1 }),
  ).rejects.toThrow(/finalization_grace_seconds/);
});

it('finalizing the draft by hand during the grace period also counts the usage known by then', async () => {
  const { setup, subscription, perCall, report } = await meteredSubscription();
  await advanceClock(stripe, setup.clock.id, FEB1 + 60);
  await report(12, FEB1 - 1);
  const draft = await cycleInvoice(subscription.id);
  const finalized = await stripe.invoices.finalizeInvoice(draft.id);
  expect(finalized.status).toBe('open');
  const line = finalized.lines.data.find((l) => l.pricing?.price_details?.price === perCall.id);
  expect(line).toMatchObject({ quantity: 12, amount: 60 });
  expect(finalized.amount_due).toBe(1060);
});
