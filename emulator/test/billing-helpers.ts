/** Shared helpers for the billing engine's tests (not a test file itself). */
import type Stripe from 'stripe';
import type { TestEmulator } from './core-helpers';

/** 2026-01-01T00:00:00Z: a fixed start so periods and prorations are computable by hand. */
export const T0 = Date.UTC(2026, 0, 1) / 1000;
export const DAY = 86_400;
/**
 * Stripe's default finalization grace period: a cycle invoice is a draft for an hour, then finalized and charged
 * (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period).
 */
export const GRACE = 3600;

/** Advances a test clock and waits (deadline) until it is `ready` again. */
export async function advanceClock(
  stripe: Stripe,
  clockId: string,
  to: number,
  timeoutMs = 10000,
): Promise<void> {
  const started = await stripe.testHelpers.testClocks.advance(clockId, { frozen_time: to });
  if (started.status !== 'advancing') throw new Error(`expected advancing, got ${started.status}`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await stripe.testHelpers.testClocks.retrieve(clockId);
    if (c.status === 'ready' && c.frozen_time === to) return;
    if (c.status === 'internal_failure') throw new Error(`test clock ${clockId} failed`);
    if (Date.now() > deadline) throw new Error(`test clock ${clockId} not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Fixture {
  clock: Stripe.TestHelpers.TestClock;
  customer: Stripe.Customer;
  product: Stripe.Product;
  /** $10.00 / month */
  basic: Stripe.Price;
  /** $30.00 / month */
  pro: Stripe.Price;
}

/** A customer on a test clock at T0 with a default card, and two monthly prices. */
export async function fixture(emulator: TestEmulator, paymentMethod = 'pm_card_visa'): Promise<Fixture> {
  const stripe = emulator.stripe;
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: T0, name: 'billing test' });
  const customer = await stripe.customers.create({
    email: 'jenny@example.com',
    test_clock: clock.id,
    payment_method: paymentMethod,
    invoice_settings: { default_payment_method: paymentMethod },
  });
  const product = await stripe.products.create({ name: 'Plan' });
  const basic = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 1000,
    recurring: { interval: 'month' },
  });
  const pro = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 3000,
    recurring: { interval: 'month' },
  });
  return { clock, customer, product, basic, pro };
}

/** Event types recorded by the emulator since `since` (oldest first), optionally filtered. */
export async function eventTypes(stripe: Stripe, filter?: (e: Stripe.Event) => boolean): Promise<string[]> {
  const all: Stripe.Event[] = [];
  for await (const e of stripe.events.list({ limit: 100 })) all.push(e);
  return all
    .reverse()
    .filter((e) => (filter ? filter(e) : true))
    .map((e) => e.type);
}

export async function eventsOf(stripe: Stripe, type: string): Promise<Stripe.Event[]> {
  const out: Stripe.Event[] = [];
  for await (const e of stripe.events.list({ type, limit: 100 })) out.push(e);
  return out.reverse();
}

export function subscriptionIdOf(invoice: Stripe.Invoice): string | null {
  const s = invoice.parent?.subscription_details?.subscription ?? null;
  return typeof s === 'string' ? s : (s?.id ?? null);
}
