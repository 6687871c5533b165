/**
 * A renewal charged to a card that attaches but fails (`pm_card_chargeCustomerFail`, 4000…0341):
 * past_due, `invoice.payment_failed` with `attempt_count`/`next_payment_attempt`, retries on the
 * configured schedule, then the configured final status
 * (https://docs.stripe.com/billing/revenue-recovery/smart-retries).
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
/** The renewal is created on Feb 1 as a draft, finalized and charged an hour later; retries count from there. */
const CHARGED = FEB1 + GRACE;

/** An active subscription whose card starts failing after the first (trial) invoice. */
async function failingRenewal(): Promise<{ subscription: Stripe.Subscription; clock: string }> {
  const f = await fixture(emulator, 'pm_card_chargeCustomerFail');
  // A 31-day trial: the $0 invoice needs no charge, so the first charge is the renewal on Feb 1.
  const subscription = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.basic.id }],
    trial_end: FEB1,
  });
  expect(subscription.status).toBe('trialing');
  return { subscription, clock: f.clock.id };
}

describe.each(['unpaid', 'canceled'] as const)('retries ending %s', (finalStatus) => {
  it('goes past_due, retries on the schedule and ends as configured', async () => {
    const config = await emulator.control('/_emulator/billing/config', {
      retry_schedule: [DAY, 2 * DAY],
      final_status: finalStatus,
    });
    expect(config).toMatchObject({ retrySchedule: [DAY, 2 * DAY], finalStatus });
    const { subscription, clock } = await failingRenewal();

    await advanceClock(stripe, clock, CHARGED + 60);
    const due = await stripe.subscriptions.retrieve(subscription.id);
    expect(due.status).toBe('past_due');
    const failed = await eventsOf(stripe, 'invoice.payment_failed');
    expect(failed).toHaveLength(1);
    const inv1 = failed[0].data.object as Stripe.Invoice;
    expect(inv1.attempt_count).toBe(1);
    expect(inv1.next_payment_attempt).toBe(CHARGED + DAY);
    // Renewal failure order (facts §4).
    const order = await eventTypes(
      stripe,
      (e) => e.created >= FEB1 && e.created < FEB1 + DAY && !e.type.startsWith('test_helpers'),
    );
    expect(order).toEqual([
      'customer.subscription.updated',
      'invoice.created',
      'invoice.finalized',
      'payment_intent.created',
      'charge.failed',
      'payment_intent.payment_failed',
      'invoice.payment_failed',
      // An automatic payment failure makes the customer delinquent.
      'customer.updated',
      'customer.subscription.updated',
    ]);

    await advanceClock(stripe, clock, CHARGED + DAY + 60);
    const second = await eventsOf(stripe, 'invoice.payment_failed');
    expect(second).toHaveLength(2);
    expect((second[1].data.object as Stripe.Invoice).attempt_count).toBe(2);
    expect((second[1].data.object as Stripe.Invoice).next_payment_attempt).toBe(CHARGED + 3 * DAY);
    expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('past_due');

    await advanceClock(stripe, clock, CHARGED + 3 * DAY + 60);
    const third = await eventsOf(stripe, 'invoice.payment_failed');
    expect(third).toHaveLength(3);
    expect((third[2].data.object as Stripe.Invoice).next_payment_attempt).toBeNull();
    const end = await stripe.subscriptions.retrieve(subscription.id);
    expect(end.status).toBe(finalStatus);
    if (finalStatus === 'canceled') {
      expect(await eventsOf(stripe, 'customer.subscription.deleted')).toHaveLength(1);
      expect(end.cancellation_details?.reason).toBe('payment_failed');
    }

    // Nothing more is tried after the last attempt.
    await advanceClock(stripe, clock, FEB1 + 10 * DAY);
    expect(await eventsOf(stripe, 'invoice.payment_failed')).toHaveLength(3);
  });
});

it('a successful retry after updating the card makes the subscription active again', async () => {
  await emulator.control('/_emulator/billing/config', { retry_schedule: [DAY], final_status: 'unpaid' });
  const { subscription, clock } = await failingRenewal();
  await advanceClock(stripe, clock, CHARGED + 60);
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('past_due');
  const paymentMethod = await stripe.paymentMethods.attach('pm_card_visa', {
    customer: String(subscription.customer),
  });
  await stripe.subscriptions.update(subscription.id, { default_payment_method: paymentMethod.id });
  await advanceClock(stripe, clock, CHARGED + DAY + 60);
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('active');
  const invoice = (await stripe.invoices.list({ subscription: subscription.id, status: 'paid' })).data.find(
    (i) => i.billing_reason === 'subscription_cycle',
  );
  expect(invoice?.attempt_count).toBe(2);
});

it('the default schedule makes 8 tries within two weeks', async () => {
  await emulator.control('/_emulator/billing/config', { reset: true });
  const { subscription, clock } = await failingRenewal();
  await advanceClock(stripe, clock, FEB1 + 14 * DAY);
  expect(await eventsOf(stripe, 'invoice.payment_failed')).toHaveLength(8);
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('canceled');
});

it('the emulator-wide clock runs renewals for customers without a test clock', async () => {
  const customer = await stripe.customers.create({
    payment_method: 'pm_card_visa',
    invoice_settings: { default_payment_method: 'pm_card_visa' },
  });
  const product = await stripe.products.create({ name: 'Daily' });
  const price = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 100,
    recurring: { interval: 'day' },
  });
  const subscription = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
  });
  await emulator.control('/_emulator/clock/advance', { seconds: 3 * DAY + GRACE + 60 });
  const invoices = await stripe.invoices.list({ subscription: subscription.id });
  expect(invoices.data).toHaveLength(4);
  expect(invoices.data.every((i) => i.status === 'paid')).toBe(true);
  void T0;
});
