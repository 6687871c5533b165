/**
 * Usage-based billing with a billing meter and a graduated-tier metered price, billed at the cycle
 * boundary for the elapsed period. Figures worked out by hand from Stripe's docs:
 * - https://docs.stripe.com/products-prices/pricing-models#graduated-pricing — each tier bills the
 *   units that fall inside it at its unit amount, plus the tier's flat amount once reached;
 * - https://docs.stripe.com/billing/subscriptions/usage-based — metered usage is the meter's
 *   aggregation over events with period_start ≤ timestamp < period_end, invoiced in the
 *   `subscription_cycle` invoice together with licensed items for the new period.
 */
import type Stripe from 'stripe';
import { useEmulatorPerFile } from './core-helpers';
import { advanceClock, DAY, T0 } from './billing-helpers';

let stripe: Stripe;

useEmulatorPerFile((started) => {
  stripe = started.stripe;
});

const FEB1 = Date.UTC(2026, 1, 1) / 1000;

async function setup(tiersMode: 'graduated' | 'volume') {
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: T0 });
  const customer = await stripe.customers.create({
    test_clock: clock.id,
    payment_method: 'pm_card_visa',
    invoice_settings: { default_payment_method: 'pm_card_visa' },
  });
  const meter = await stripe.billing.meters.create({
    display_name: 'API calls',
    event_name: `api_calls_${tiersMode}`,
    default_aggregation: { formula: 'sum' },
  });
  const product = await stripe.products.create({ name: 'API' });
  const base = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 2000,
    recurring: { interval: 'month' },
  });
  const metered = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    billing_scheme: 'tiered',
    tiers_mode: tiersMode,
    tiers: [
      { up_to: 100, unit_amount: 10 },
      { up_to: 1000, unit_amount: 5, flat_amount: 500 },
      { up_to: 'inf', unit_amount: 2, flat_amount: 1000 },
    ],
    recurring: { interval: 'month', usage_type: 'metered', meter: meter.id },
  });
  const subscription = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: base.id }, { price: metered.id }],
  });
  // Usage in January: 300 + 900 + 50 = 1250 units; one event on Feb 1 belongs to February.
  const send = (value: number, timestamp: number) =>
    stripe.billing.meterEvents.create({
      event_name: meter.event_name,
      payload: { stripe_customer_id: customer.id, value: String(value) },
      timestamp,
    });
  await advanceClock(stripe, clock.id, T0 + 20 * DAY);
  await send(300, T0 + 2 * DAY);
  await send(900, T0 + 15 * DAY);
  await send(50, T0 + 19 * DAY);
  await advanceClock(stripe, clock.id, FEB1 - 10);
  await send(7777, FEB1 + 60);
  await advanceClock(stripe, clock.id, FEB1 + 3600);
  const invoices = await stripe.invoices.list({ subscription: subscription.id });
  const cycle = invoices.data.find((i) => i.billing_reason === 'subscription_cycle');
  if (!cycle) throw new Error('no subscription_cycle invoice');
  return { cycle, metered, base };
}

it('graduated tiers: a metered invoice matching the hand computation', async () => {
  const { cycle, metered, base } = await setup('graduated');
  // 1250 units, graduated:
  //   tier 1: 100 × $0.10            = 1000
  //   tier 2: 900 × $0.05 + $5 flat  = 4500 + 500 = 5000
  //   tier 3: 250 × $0.02 + $10 flat = 500 + 1000 = 1500
  //   usage total                    = 7500 cents
  // plus the licensed $20.00 for February → 9500 cents due.
  const usage = cycle.lines.data.find((l) => l.pricing?.price_details?.price === metered.id);
  expect(usage?.quantity).toBe(1250);
  expect(usage?.amount).toBe(7500);
  expect(usage?.period).toEqual({ start: T0, end: FEB1 });
  const licensed = cycle.lines.data.find((l) => l.pricing?.price_details?.price === base.id);
  expect(licensed?.amount).toBe(2000);
  expect(licensed?.period).toEqual({ start: FEB1, end: Date.UTC(2026, 2, 1) / 1000 });
  expect(cycle.amount_due).toBe(9500);
  expect(cycle.status).toBe('paid');
});

it('volume tiers: all units at the tier containing the total', async () => {
  const { cycle, metered } = await setup('volume');
  // 1250 units fall in tier 3: 1250 × $0.02 + $10 flat = 2500 + 1000 = 3500 cents.
  const usage = cycle.lines.data.find((l) => l.pricing?.price_details?.price === metered.id);
  expect(usage?.amount).toBe(3500);
  expect(cycle.amount_due).toBe(3500 + 2000);
});

it('usage during a trial is not billed, not even when reported late, at trial end or later', async () => {
  // https://docs.stripe.com/billing/subscriptions/trials: "During the trial period, any usage accrued doesn't count
  // toward the total charged to the customer at the end of the billing cycle."
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: T0 });
  const customer = await stripe.customers.create({
    test_clock: clock.id,
    payment_method: 'pm_card_visa',
    invoice_settings: { default_payment_method: 'pm_card_visa' },
  });
  const meter = await stripe.billing.meters.create({
    display_name: 'Builds',
    event_name: 'builds',
    default_aggregation: { formula: 'sum' },
  });
  const product = await stripe.products.create({ name: 'CI' });
  const base = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 2000,
    recurring: { interval: 'month' },
  });
  const perBuild = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 10,
    recurring: { interval: 'month', usage_type: 'metered', meter: meter.id },
  });
  const subscription = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: base.id }, { price: perBuild.id }],
    trial_period_days: 14,
  });
  const trialEnd = T0 + 14 * DAY;
  const report = (value: number, timestamp: number) =>
    stripe.billing.meterEvents.create({
      event_name: 'builds',
      payload: { stripe_customer_id: customer.id, value: String(value) },
      timestamp,
    });
  await advanceClock(stripe, clock.id, T0 + 3 * DAY);
  await report(500, T0 + 3 * DAY - 60);
  await advanceClock(stripe, clock.id, trialEnd + 600);
  // Reported during the grace hour, timestamped in the trial.
  await report(100, trialEnd - 60);
  await advanceClock(stripe, clock.id, trialEnd + 3600);
  const invoices = await stripe.invoices.list({ subscription: subscription.id });
  const trialEndInvoice = invoices.data.find((i) => i.billing_reason === 'subscription_cycle');
  expect(trialEndInvoice).toMatchObject({
    status: 'paid',
    amount_paid: 2000,
    period_start: T0,
    period_end: trialEnd,
  });
  // Only February's licensed line: no usage line charges anything.
  expect(trialEndInvoice?.lines.data.map((l) => [l.pricing?.price_details?.price, l.amount])).toEqual([
    [base.id, 2000],
  ]);

  // After the trial: 30 builds in the first paid period; the renewal bills those alone.
  await advanceClock(stripe, clock.id, trialEnd + 2 * DAY);
  await report(30, trialEnd + DAY);
  const renewalAt = Date.UTC(2026, 1, 15) / 1000;
  await advanceClock(stripe, clock.id, renewalAt + 3600);
  const renewal = (await stripe.invoices.list({ subscription: subscription.id })).data.find(
    (i) => i.billing_reason === 'subscription_cycle' && i.created === renewalAt,
  );
  const usage = renewal?.lines.data.find((l) => l.pricing?.price_details?.price === perBuild.id);
  expect(usage).toMatchObject({ quantity: 30, amount: 300, period: { start: trialEnd, end: renewalAt } });
  expect(renewal).toMatchObject({ status: 'paid', amount_paid: 2000 + 300 });
});
