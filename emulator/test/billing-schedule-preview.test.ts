/**
 * `POST /v1/invoices/create_preview` with `schedule` (https://docs.stripe.com/api/invoices/create_preview: "The
 * identifier of the schedule whose upcoming invoice you'd like to retrieve"): the next invoice as the schedule's
 * phases make it, i.e. the renewal at the period end bills the phase that starts then.
 */
import type Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import { advanceClock, fixture, GRACE } from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

const FEB1 = Date.UTC(2026, 1, 1) / 1000;
const MAR1 = Date.UTC(2026, 2, 1) / 1000;

async function subscriptionWithScheduledChange() {
  const f = await fixture(emulator);
  const subscription = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.pro.id, quantity: 2 }],
  });
  const created = await stripe.subscriptionSchedules.create({ from_subscription: subscription.id });
  const schedule = await stripe.subscriptionSchedules.update(created.id, {
    end_behavior: 'release',
    phases: [
      {
        items: [{ price: f.pro.id, quantity: 2 }],
        start_date: created.phases[0].start_date,
        end_date: created.phases[0].end_date,
      },
      { items: [{ price: f.basic.id, quantity: 3 }], duration: { interval: 'month', interval_count: 1 } },
    ],
  });
  return { f, subscription, schedule };
}

describe('create_preview with a schedule', () => {
  it("bills the next phase's items at the renewal: another price and quantity from the period end", async () => {
    const { f, schedule } = await subscriptionWithScheduledChange();
    const preview = await stripe.invoices.createPreview({ schedule: schedule.id });
    const lines = preview.lines.data;
    expect(lines).toHaveLength(1);
    expect(lines[0].pricing?.price_details?.price).toBe(f.basic.id);
    expect(lines[0].quantity).toBe(3);
    expect(lines[0].amount).toBe(3 * 1000);
    expect(lines[0].period).toEqual({ start: FEB1, end: MAR1 });
    expect(preview.total).toBe(3000);
    expect(preview.billing_reason).toBe('subscription_cycle');
  });

  it('previews the same invoice the renewal then makes', async () => {
    const { f, subscription, schedule } = await subscriptionWithScheduledChange();
    const preview = await stripe.invoices.createPreview({ schedule: schedule.id });
    await advanceClock(stripe, f.clock.id, FEB1 + GRACE + 60);
    const renewal = (await stripe.invoices.list({ subscription: subscription.id })).data.find(
      (invoice) => invoice.billing_reason === 'subscription_cycle',
    );
    expect(renewal?.total).toBe(preview.total);
    expect(renewal?.lines.data.map((line) => [line.quantity, line.amount])).toEqual(
      preview.lines.data.map((line) => [line.quantity, line.amount]),
    );
  });

  it('is refused together with subscription', async () => {
    const { subscription, schedule } = await subscriptionWithScheduledChange();
    await expect(
      stripe.invoices.createPreview({ schedule: schedule.id, subscription: subscription.id }),
    ).rejects.toMatchObject({ type: 'StripeInvalidRequestError', param: 'schedule' });
  });
});
