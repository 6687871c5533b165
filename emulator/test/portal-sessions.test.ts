/**
 * Billing portal configurations and sessions through the SDK, and the hosted portal page driven
 * with plain form posts (what a browser does with its HTML forms).
 */
import type Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import { eventsOf, fixture } from './billing-helpers';

let emu: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emu = started;
  stripe = started.stripe;
});

async function post(url: string, form: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
  });
}

it('a default configuration exists; custom ones are created and updated', async () => {
  const list = await stripe.billingPortal.configurations.list({ is_default: true });
  expect(list.data).toHaveLength(1);
  expect(list.data[0].features.subscription_cancel.mode).toBe('at_period_end');
  const cfg = await stripe.billingPortal.configurations.create({
    features: {
      subscription_cancel: { enabled: true, mode: 'immediately' },
      invoice_history: { enabled: false },
    },
  });
  expect(cfg.is_default).toBe(false);
  expect(cfg.features.subscription_cancel.mode).toBe('immediately');
  const upd = await stripe.billingPortal.configurations.update(cfg.id, {
    default_return_url: 'https://app.example/account',
  });
  expect(upd.default_return_url).toBe('https://app.example/account');
});

it('portal page: switch plan, update the card, cancel at period end, undo, return link', async () => {
  const f = await fixture(emu);
  const sub = await stripe.subscriptions.create({ customer: f.customer.id, items: [{ price: f.basic.id }] });
  const cfg = await stripe.billingPortal.configurations.create({
    features: {
      subscription_update: {
        enabled: true,
        default_allowed_updates: ['price'],
        proration_behavior: 'none',
        products: [{ product: f.product.id, prices: [f.basic.id, f.pro.id] }],
      },
      subscription_cancel: { enabled: true, mode: 'at_period_end' },
      payment_method_update: { enabled: true },
      invoice_history: { enabled: true },
    },
  });
  const session = await stripe.billingPortal.sessions.create({
    customer: f.customer.id,
    configuration: cfg.id,
    return_url: 'https://app.example/account',
  });
  expect(session.url).toMatch(new RegExp(`^${emu.url}/portal/bps_`));
  const page = await (await fetch(session.url)).text();
  expect(page).toContain('https://app.example/account');
  expect(page).toContain(`value="${f.pro.id}"`);
  const inv = await stripe.invoices.retrieve(String(sub.latest_invoice));
  expect(page).toContain(String(inv.hosted_invoice_url));

  const sw = await post(`${session.url}/switch`, { subscription: sub.id, price: f.pro.id });
  expect(sw.status).toBe(303);
  expect((await stripe.subscriptions.retrieve(sub.id)).items.data[0].price.id).toBe(f.pro.id);

  const pm = await post(`${session.url}/payment-method`, { card: '5555 5555 5555 4444' });
  expect(pm.status).toBe(303);
  const customer = (await stripe.customers.retrieve(f.customer.id)) as Stripe.Customer;
  const card = await stripe.paymentMethods.retrieve(String(customer.invoice_settings.default_payment_method));
  expect(card.card?.last4).toBe('4444');

  const cancel = await post(`${session.url}/cancel`, { subscription: sub.id });
  expect(cancel.status).toBe(303);
  expect((await stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end).toBe(true);
  const ev = (await eventsOf(stripe, 'customer.subscription.updated')).pop();
  expect(ev?.data.previous_attributes).toMatchObject({ cancel_at_period_end: false });

  await post(`${session.url}/renew`, { subscription: sub.id });
  expect((await stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end).toBe(false);

  // A price not offered by the configuration is refused.
  const other = await stripe.prices.create({
    product: f.product.id,
    currency: 'usd',
    unit_amount: 1,
    recurring: { interval: 'month' },
  });
  const refused = await post(`${session.url}/switch`, { subscription: sub.id, price: other.id });
  expect(refused.status).toBe(402);
  expect(await refused.text()).toContain('not offered');
});

it('immediate cancellation mode cancels at once', async () => {
  const f = await fixture(emu);
  const sub = await stripe.subscriptions.create({ customer: f.customer.id, items: [{ price: f.basic.id }] });
  const cfg = await stripe.billingPortal.configurations.create({
    features: { subscription_cancel: { enabled: true, mode: 'immediately' } },
  });
  const session = await stripe.billingPortal.sessions.create({
    customer: f.customer.id,
    configuration: cfg.id,
  });
  await post(`${session.url}/cancel`, { subscription: sub.id });
  expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('canceled');
});

it('the dashboard lists billing objects and the hosted invoice page renders', async () => {
  const f = await fixture(emu);
  const sub = await stripe.subscriptions.create({ customer: f.customer.id, items: [{ price: f.basic.id }] });
  const dash = await (await fetch(`${emu.url}/`)).text();
  expect(dash).toContain(sub.id);
  const inv = await stripe.invoices.retrieve(String(sub.latest_invoice));
  const page = await fetch(String(inv.hosted_invoice_url));
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain(String(inv.number));
  expect(html).toContain('$10.00');
});

it('lists configurations with products expanded, as the service reads them', async () => {
  const product = await stripe.products.create({ name: 'P' });
  const price = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 100,
    recurring: { interval: 'month' },
  });
  await stripe.billingPortal.configurations.create({
    name: 'self-serve',
    features: {
      subscription_update: {
        enabled: true,
        default_allowed_updates: ['price'],
        products: [{ product: product.id, prices: [price.id] }],
      },
    },
  });
  const list = await stripe.billingPortal.configurations.list({
    active: true,
    limit: 100,
    expand: ['data.features.subscription_update.products'],
  });
  const found = list.data.find((c) => c.name === 'self-serve');
  expect(found?.features.subscription_update.products).toEqual([
    {
      adjustable_quantity: { enabled: false, maximum: null, minimum: 1 },
      prices: [price.id],
      product: product.id,
    },
  ]);
});
