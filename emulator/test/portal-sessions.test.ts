/**
 * Billing portal configurations and sessions through the SDK, and the hosted portal page driven
 * with plain form posts (what a browser does with its HTML forms).
 */
import type Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import { advanceClock, eventsOf, fixture } from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
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
  const config = await stripe.billingPortal.configurations.create({
    features: {
      subscription_cancel: { enabled: true, mode: 'immediately' },
      invoice_history: { enabled: false },
    },
  });
  expect(config.is_default).toBe(false);
  expect(config.features.subscription_cancel.mode).toBe('immediately');
  const upd = await stripe.billingPortal.configurations.update(config.id, {
    default_return_url: 'https://app.example/account',
  });
  expect(upd.default_return_url).toBe('https://app.example/account');
});

it('portal page: switch plan, update the card, cancel at period end, undo, return link', async () => {
  const f = await fixture(emulator);
  const subscription = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.basic.id }],
  });
  const config = await stripe.billingPortal.configurations.create({
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
    configuration: config.id,
    return_url: 'https://app.example/account',
  });
  expect(session.url).toMatch(new RegExp(`^${emulator.url}/portal/bps_`));
  const page = await (await fetch(session.url)).text();
  expect(page).toContain('https://app.example/account');
  expect(page).toContain(`value="${f.pro.id}"`);
  const invoice = await stripe.invoices.retrieve(String(subscription.latest_invoice));
  expect(page).toContain(String(invoice.hosted_invoice_url));

  const sw = await post(`${session.url}/switch`, { subscription: subscription.id, price: f.pro.id });
  expect(sw.status).toBe(303);
  expect((await stripe.subscriptions.retrieve(subscription.id)).items.data[0].price.id).toBe(f.pro.id);

  const paymentMethod = await post(`${session.url}/payment-method`, { card: '5555 5555 5555 4444' });
  expect(paymentMethod.status).toBe(303);
  const customer = (await stripe.customers.retrieve(f.customer.id)) as Stripe.Customer;
  const card = await stripe.paymentMethods.retrieve(String(customer.invoice_settings.default_payment_method));
  expect(card.card?.last4).toBe('4444');

  const cancel = await post(`${session.url}/cancel`, { subscription: subscription.id });
  expect(cancel.status).toBe(303);
  expect((await stripe.subscriptions.retrieve(subscription.id)).cancel_at_period_end).toBe(true);
  const ev = (await eventsOf(stripe, 'customer.subscription.updated')).pop();
  expect(ev?.data.previous_attributes).toMatchObject({ cancel_at_period_end: false });

  await post(`${session.url}/renew`, { subscription: subscription.id });
  expect((await stripe.subscriptions.retrieve(subscription.id)).cancel_at_period_end).toBe(false);

  // A price not offered by the configuration is refused.
  const other = await stripe.prices.create({
    product: f.product.id,
    currency: 'usd',
    unit_amount: 1,
    recurring: { interval: 'month' },
  });
  const refused = await post(`${session.url}/switch`, { subscription: subscription.id, price: other.id });
  expect(refused.status).toBe(402);
  expect(await refused.text()).toContain('not offered');
});

it('immediate cancellation mode cancels at once', async () => {
  const f = await fixture(emulator);
  const subscription = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.basic.id }],
  });
  const config = await stripe.billingPortal.configurations.create({
    features: { subscription_cancel: { enabled: true, mode: 'immediately' } },
  });
  const session = await stripe.billingPortal.sessions.create({
    customer: f.customer.id,
    configuration: config.id,
  });
  await post(`${session.url}/cancel`, { subscription: subscription.id });
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('canceled');
});

it('the dashboard lists billing objects and the hosted invoice page renders', async () => {
  const f = await fixture(emulator);
  const subscription = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.basic.id }],
  });
  const dash = await (await fetch(`${emulator.url}/`)).text();
  expect(dash).toContain(subscription.id);
  const invoice = await stripe.invoices.retrieve(String(subscription.latest_invoice));
  const page = await fetch(String(invoice.hosted_invoice_url));
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain(String(invoice.number));
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

it('business_profile: headline and policy links are stored, updated, cleared and shown on the portal', async () => {
  const f = await fixture(emulator);
  const config = await stripe.billingPortal.configurations.create({
    business_profile: {
      headline: 'Acme partners with Stripe for billing',
      privacy_policy_url: 'https://acme.example/privacy',
      terms_of_service_url: 'https://acme.example/terms',
    },
    features: { invoice_history: { enabled: true } },
  });
  expect(config.business_profile).toEqual({
    headline: 'Acme partners with Stripe for billing',
    privacy_policy_url: 'https://acme.example/privacy',
    terms_of_service_url: 'https://acme.example/terms',
  });
  const session = await stripe.billingPortal.sessions.create({
    customer: f.customer.id,
    configuration: config.id,
  });
  const page = await (await fetch(session.url)).text();
  expect(page).toContain('<p id="headline">Acme partners with Stripe for billing</p>');
  expect(page).toContain('<a id="privacy-policy" href="https://acme.example/privacy">');
  expect(page).toContain('<a id="terms-of-service" href="https://acme.example/terms">');

  const updated = await stripe.billingPortal.configurations.update(config.id, {
    business_profile: { headline: '', privacy_policy_url: 'https://acme.example/privacy-2026' },
  });
  expect(updated.business_profile).toEqual({
    headline: null,
    privacy_policy_url: 'https://acme.example/privacy-2026',
    terms_of_service_url: 'https://acme.example/terms',
  });
  const [event] = await eventsOf(stripe, 'billing_portal.configuration.updated');
  expect(event.data.previous_attributes).toMatchObject({
    business_profile: { headline: 'Acme partners with Stripe for billing' },
  });
  const after = await (await fetch(session.url)).text();
  expect(after).not.toContain('id="headline"');
  expect(after).toContain('href="https://acme.example/privacy-2026"');

  await expect(
    stripe.billingPortal.configurations.update(config.id, {
      business_profile: { terms_of_service_url: 'javascript:alert(1)' },
    }),
  ).rejects.toMatchObject({
    statusCode: 400,
    code: 'url_invalid',
    param: 'business_profile[terms_of_service_url]',
  });
  expect(
    (await stripe.billingPortal.configurations.retrieve(config.id)).business_profile.terms_of_service_url,
  ).toBe('https://acme.example/terms');
});

/** A portal configuration offering `prices` of the fixture's product, with `conditions` for period-end switches. */
async function switchPortal(
  f: Awaited<ReturnType<typeof fixture>>,
  prices: string[],
  conditions: Stripe.BillingPortal.ConfigurationCreateParams.Features.SubscriptionUpdate.ScheduleAtPeriodEnd.Condition[],
): Promise<Stripe.BillingPortal.Session> {
  const config = await stripe.billingPortal.configurations.create({
    features: {
      subscription_update: {
        enabled: true,
        default_allowed_updates: ['price'],
        proration_behavior: 'create_prorations',
        products: [{ product: f.product.id, prices }],
        schedule_at_period_end: { conditions },
      },
    },
  });
  expect(config.features.subscription_update.schedule_at_period_end.conditions).toEqual(conditions);
  return stripe.billingPortal.sessions.create({ customer: f.customer.id, configuration: config.id });
}

it('decreasing_item_amount: a downgrade waits for the period end on a schedule; an upgrade applies now', async () => {
  const f = await fixture(emulator);
  const subscription = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.pro.id }],
  });
  const periodEnd = subscription.items.data[0].current_period_end;
  const session = await switchPortal(f, [f.basic.id, f.pro.id], [{ type: 'decreasing_item_amount' }]);

  const down = await post(`${session.url}/switch`, { subscription: subscription.id, price: f.basic.id });
  expect(down.status).toBe(303);
  const waiting = await stripe.subscriptions.retrieve(subscription.id);
  expect(waiting.items.data[0].price.id).toBe(f.pro.id);
  expect(await eventsOf(stripe, 'invoiceitem.created')).toEqual([]);
  const schedule = await stripe.subscriptionSchedules.retrieve(String(waiting.schedule));
  expect(schedule).toMatchObject({
    status: 'active',
    end_behavior: 'release',
    subscription: subscription.id,
  });
  expect(schedule.phases.map((p) => [p.items.map((item) => item.price), p.start_date, p.end_date])).toEqual([
    [[f.pro.id], subscription.items.data[0].current_period_start, periodEnd],
    [[f.basic.id], periodEnd, expect.any(Number)],
  ]);
  expect(await eventsOf(stripe, 'subscription_schedule.created')).toHaveLength(1);

  const page = await (await fetch(session.url)).text();
  expect(page).toContain(
    `<p class="scheduled" id="scheduled-${subscription.id}">Switches to Plan on 2026-02-01</p>`,
  );
  expect(page).not.toContain(`id="switch-${subscription.id}"`);
  const again = await post(`${session.url}/switch`, { subscription: subscription.id, price: f.pro.id });
  expect(again.status).toBe(402);
  expect(await again.text()).toContain('scheduled change');

  await advanceClock(stripe, f.clock.id, periodEnd + 60);
  const switched = await stripe.subscriptions.retrieve(subscription.id);
  expect(switched.items.data[0].price.id).toBe(f.basic.id);
  expect(switched.schedule).toBeNull();
  expect((await stripe.subscriptionSchedules.retrieve(schedule.id)).status).toBe('released');
  const renewal = await stripe.invoices.retrieve(String(switched.latest_invoice));
  // A renewal stays a draft for an hour (Stripe's finalization grace) before it is charged.
  expect(renewal).toMatchObject({ billing_reason: 'subscription_cycle', total: 1000, status: 'draft' });

  const up = await post(`${session.url}/switch`, { subscription: subscription.id, price: f.pro.id });
  expect(up.status).toBe(303);
  const upgraded = await stripe.subscriptions.retrieve(subscription.id);
  expect(upgraded.items.data[0].price.id).toBe(f.pro.id);
  expect(upgraded.schedule).toBeNull();
  expect((await eventsOf(stripe, 'invoiceitem.created')).length).toBeGreaterThan(0);
});

it('shortening_interval: yearly to monthly waits for the period end; without conditions it applies now', async () => {
  const f = await fixture(emulator);
  const yearly = await stripe.prices.create({
    product: f.product.id,
    currency: 'usd',
    unit_amount: 2000,
    recurring: { interval: 'year' },
  });
  const subscription = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: yearly.id }],
  });
  // $30 a month costs more than $20 a year per item, so only the shorter interval asks for waiting.
  const session = await switchPortal(f, [yearly.id, f.pro.id], [{ type: 'shortening_interval' }]);
  await post(`${session.url}/switch`, { subscription: subscription.id, price: f.pro.id });
  const waiting = await stripe.subscriptions.retrieve(subscription.id);
  expect(waiting.items.data[0].price.id).toBe(yearly.id);
  expect(waiting.schedule).not.toBeNull();

  const other = await stripe.subscriptions.create({ customer: f.customer.id, items: [{ price: yearly.id }] });
  const plain = await switchPortal(f, [yearly.id, f.pro.id], []);
  await post(`${plain.url}/switch`, { subscription: other.id, price: f.pro.id });
  const now = await stripe.subscriptions.retrieve(other.id);
  expect(now.items.data[0].price.id).toBe(f.pro.id);
  expect(now.schedule).toBeNull();

  const config = await stripe.billingPortal.configurations.retrieve(String(session.configuration));
  const cleared = await stripe.billingPortal.configurations.update(config.id, {
    features: { subscription_update: { schedule_at_period_end: { conditions: '' } } },
  });
  expect(cleared.features.subscription_update.schedule_at_period_end.conditions).toEqual([]);
});
