/**
 * Billing state survives a restart with `--data`: subscriptions, the engine's private state,
 * invoice numbering, the billing config and test clocks are reloaded and time keeps working.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestEmulator } from './core-helpers';
import { advanceClock, DAY, fixture, T0 } from './billing-helpers';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'emulator-billing-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

it('renews after a restart with the same data file', async () => {
  const dataFile = join(dir, 'stripe.json');
  const first = await startTestEmulator({ dataFile });
  const f = await fixture(first);
  await first.control('/_emulator/billing/config', { retry_schedule: [3600], final_status: 'unpaid' });
  const subscription = await first.stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.basic.id }],
    trial_period_days: 5,
  });
  await first.close();

  const second = await startTestEmulator({ dataFile });
  try {
    const config = await second.control('/_emulator/billing/config', {}, 'GET');
    expect(config).toMatchObject({ retrySchedule: [3600], finalStatus: 'unpaid' });
    await advanceClock(second.stripe, f.clock.id, T0 + 6 * DAY);
    const s = await second.stripe.subscriptions.retrieve(subscription.id);
    expect(s.status).toBe('active');
    const invoices = await second.stripe.invoices.list({ subscription: subscription.id });
    expect(invoices.data.map((i) => i.number?.slice(-4)).sort()).toEqual(['0001', '0002']);
    // trial_will_end was sent once, before the restart window closed (2 days in).
    const twe = await second.stripe.events.list({ type: 'customer.subscription.trial_will_end' });
    expect(twe.data).toHaveLength(1);
  } finally {
    await second.close();
  }
});
