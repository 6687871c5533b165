/**
 * Checkout Sessions through the SDK, completed with `POST /_emulator/checkout/sessions/{id}/complete`
 * (what the hosted page's form does, for tests without a browser).
 */
import type Stripe from 'stripe';
import { startTestEmulator, type TestEmulator } from './core-helpers';
import { eventTypes } from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;
let monthly: Stripe.Price;

beforeAll(async () => {
  emulator = await startTestEmulator();
  stripe = emulator.stripe;
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(async () => {
  await emulator.control('/_emulator/reset');
  const product = await stripe.products.create({ name: 'Team' });
  monthly = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 1500,
    recurring: { interval: 'month' },
  });
});

async function complete(id: string, card: string, email?: string) {
  return emulator.raw('POST', `/_emulator/checkout/sessions/${id}/complete`, {
    body: new URLSearchParams({ card, ...(email ? { email } : {}) }).toString(),
    auth: null,
  });
}

it('subscription mode: customer, subscription, paid invoice, events in order, completed last', async () => {
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    line_items: [{ price: monthly.id, quantity: 2 }],
    customer_email: 'buyer@example.com',
    client_reference_id: 'user_42',
    metadata: { plan: 'team' },
    subscription_data: { metadata: { source: 'checkout' } },
    success_url: 'https://app.example/success?session_id={CHECKOUT_SESSION_ID}',
    cancel_url: 'https://app.example/cancel',
  });
  expect(session.status).toBe('open');
  expect(session.url).toMatch(new RegExp(`^${emulator.url}/checkout/pay/cs_test_`));
  expect(session.amount_total).toBe(3000);
  const lines = await stripe.checkout.sessions.listLineItems(session.id);
  expect(lines.data[0].quantity).toBe(2);

  const r = await complete(session.id, '4242 4242 4242 4242');
  expect(r.status).toBe(200);
  const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['subscription'] });
  expect(done.status).toBe('complete');
  expect(done.payment_status).toBe('paid');
  expect(done.client_reference_id).toBe('user_42');
  const subscription = done.subscription as Stripe.Subscription;
  expect(subscription.status).toBe('active');
  expect(subscription.metadata).toEqual({ source: 'checkout' });
  expect(subscription.items.data[0].quantity).toBe(2);
  const customer = await stripe.customers.retrieve(String(done.customer));
  expect((customer as Stripe.Customer).email).toBe('buyer@example.com');
  const invoice = await stripe.invoices.retrieve(String(done.invoice));
  expect(invoice.amount_paid).toBe(3000);

  const types = await eventTypes(stripe, (e) => !['product.created', 'price.created'].includes(e.type));
  expect(types).toEqual([
    'customer.created',
    'payment_method.attached',
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
    'checkout.session.completed',
  ]);
});

it('a declined card leaves the session open and creates no subscription', async () => {
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    line_items: [{ price: monthly.id, quantity: 1 }],
    success_url: 'https://app.example/ok',
  });
  const r = await complete(session.id, '4000000000000002', 'x@example.com');
  expect(r.status).toBe(402);
  expect(r.json).toMatchObject({ error: { type: 'card_error', decline_code: 'generic_decline' } });
  expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');
  expect((await stripe.subscriptions.list({ status: 'all' })).data).toHaveLength(0);
});

it('trial via subscription_data, existing customer, and payment mode', async () => {
  const customer = await stripe.customers.create({ email: 'known@example.com' });
  const trial = await stripe.checkout.sessions.create({
    mode: 'subscription',
    customer: customer.id,
    line_items: [{ price: monthly.id, quantity: 1 }],
    subscription_data: { trial_period_days: 7 },
    success_url: 'https://app.example/ok',
  });
  expect((await complete(trial.id, '4242424242424242')).status).toBe(200);
  const t = await stripe.checkout.sessions.retrieve(trial.id, { expand: ['subscription'] });
  expect((t.subscription as Stripe.Subscription).status).toBe('trialing');
  expect(t.customer).toBe(customer.id);

  const product = await stripe.products.create({ name: 'Sticker' });
  const once = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 250 });
  const pay = await stripe.checkout.sessions.create({
    mode: 'payment',
    line_items: [{ price: once.id, quantity: 4 }],
    success_url: 'https://app.example/ok',
  });
  expect((await complete(pay.id, '4242424242424242')).status).toBe(200);
  const p = await stripe.checkout.sessions.retrieve(pay.id, { expand: ['payment_intent'] });
  expect(p.payment_status).toBe('paid');
  expect((p.payment_intent as Stripe.PaymentIntent).amount_received).toBe(1000);
});

it('expire and list', async () => {
  const s = await stripe.checkout.sessions.create({
    mode: 'subscription',
    line_items: [{ price: monthly.id, quantity: 1 }],
    success_url: 'https://app.example/ok',
  });
  const expired = await stripe.checkout.sessions.expire(s.id);
  expect(expired.status).toBe('expired');
  expect((await complete(s.id, '4242424242424242')).status).toBe(400);
  const list = await stripe.checkout.sessions.list({ status: 'expired' });
  expect(list.data.map((x) => x.id)).toEqual([s.id]);
});

it('the hosted page form posts and redirects with the session id', async () => {
  const s = await stripe.checkout.sessions.create({
    mode: 'subscription',
    line_items: [{ price: monthly.id, quantity: 1 }],
    success_url: 'https://app.example/ok?cs={CHECKOUT_SESSION_ID}',
  });
  const page = await fetch(String(s.url));
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('name="card"');
  const declined = await fetch(String(s.url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'card=4000000000009995&email=a%40b.c',
    redirect: 'manual',
  });
  expect(declined.status).toBe(402);
  expect(await declined.text()).toContain('insufficient funds');
  const res = await fetch(String(s.url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'card=4242+4242+4242+4242&email=a%40b.c',
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe(`https://app.example/ok?cs=${s.id}`);
});

it('one-time prices in subscription mode are billed once on the first invoice', async () => {
  const product = await stripe.products.create({ name: 'Setup fee' });
  const fee = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 5000 });
  const s = await stripe.checkout.sessions.create({
    mode: 'subscription',
    line_items: [
      { price: monthly.id, quantity: 1 },
      { price: fee.id, quantity: 1 },
    ],
    success_url: 'https://app.example/ok',
  });
  expect(s.amount_total).toBe(6500);
  expect((await complete(s.id, '4242424242424242', 'fee@example.com')).status).toBe(200);
  const done = await stripe.checkout.sessions.retrieve(s.id);
  const invoice = await stripe.invoices.retrieve(String(done.invoice));
  expect(invoice.amount_paid).toBe(6500);
  expect(invoice.lines.data).toHaveLength(2);
  await expect(
    stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price: fee.id, quantity: 1 }],
      success_url: 'https://x.example',
    }),
  ).rejects.toMatchObject({ statusCode: 400, param: 'line_items' });
});

it('an open session expires when the clock passes expires_at', async () => {
  const s = await stripe.checkout.sessions.create({
    mode: 'subscription',
    line_items: [{ price: monthly.id, quantity: 1 }],
    success_url: 'https://app.example/ok',
  });
  await emulator.control('/_emulator/clock/advance', { seconds: 23 * 3600 });
  expect((await stripe.checkout.sessions.retrieve(s.id)).status).toBe('open');
  await emulator.control('/_emulator/clock/advance', { seconds: 2 * 3600 });
  const after = await stripe.checkout.sessions.retrieve(s.id);
  expect(after.status).toBe('expired');
  expect(after.url).toBeNull();
  const events = await stripe.events.list({ type: 'checkout.session.expired' });
  expect(events.data.map((e) => (e.data.object as { id: string }).id)).toEqual([s.id]);
});
