/** Discounts on Checkout Sessions: `discounts`, and a promotion code typed into the hosted page's box. */
import Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';

let emulator: TestEmulator;
let stripe: Stripe;
let monthly: Stripe.Price;
let oneTime: Stripe.Price;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

beforeEach(async () => {
  const product = await stripe.products.create({ name: 'Pro' });
  monthly = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 2000,
    recurring: { interval: 'month' },
  });
  oneTime = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 4500 });
});

async function submit(url: string, body: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body,
    redirect: 'manual',
  });
}

it('a coupon on a subscription-mode session discounts the session and the subscription it creates', async () => {
  const coupon = await stripe.coupons.create({ percent_off: 15, duration: 'forever' });
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    line_items: [{ price: monthly.id, quantity: 1 }],
    discounts: [{ coupon: coupon.id }],
    success_url: 'https://app.example/ok',
  });
  expect(session).toMatchObject({
    amount_subtotal: 2000,
    amount_total: 1700,
    total_details: { amount_discount: 300 },
    discounts: [{ coupon: coupon.id, promotion_code: null }],
  });
  const done = await emulator.control(`/_emulator/checkout/sessions/${session.id}/complete`, {
    card: '4242424242424242',
    email: 'pat@example.com',
  });
  const subscription = await stripe.subscriptions.retrieve(String(done.subscription), {
    expand: ['latest_invoice', 'discounts'],
  });
  expect((subscription.discounts[0] as Stripe.Discount).source.coupon).toBe(coupon.id);
  expect(subscription.latest_invoice).toMatchObject({ subtotal: 2000, total: 1700, amount_paid: 1700 });
});

it('takes a promotion code typed into the hosted page, regardless of case', async () => {
  const coupon = await stripe.coupons.create({ amount_off: 500, currency: 'usd', duration: 'once' });
  const code = await stripe.promotionCodes.create({
    promotion: { type: 'coupon', coupon: coupon.id },
    code: 'WELCOME5',
  });
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    line_items: [{ price: monthly.id, quantity: 1 }],
    allow_promotion_codes: true,
    success_url: 'https://app.example/ok',
  });
  const page = await (await fetch(String(session.url))).text();
  expect(page).toContain('name="promotion_code"');
  const wrong = await submit(String(session.url), 'card=4242424242424242&email=a%40b.c&promotion_code=NOPE');
  expect(wrong.status).toBe(402);
  expect(await wrong.text()).toContain('This code is invalid.');
  const paid = await submit(
    String(session.url),
    'card=4242424242424242&email=a%40b.c&promotion_code=welcome5',
  );
  expect(paid.status).toBe(303);
  const completed = await stripe.checkout.sessions.retrieve(session.id, {
    expand: ['subscription.latest_invoice'],
  });
  expect(completed).toMatchObject({
    status: 'complete',
    amount_total: 1500,
    total_details: { amount_discount: 500 },
    discounts: [{ coupon: null, promotion_code: code.id }],
  });
  const subscription = completed.subscription as Stripe.Subscription;
  expect(subscription.latest_invoice).toMatchObject({ total: 1500, amount_paid: 1500 });
  expect((await stripe.promotionCodes.retrieve(code.id)).times_redeemed).toBe(1);
});

it('the complete control takes the code a customer would type', async () => {
  const coupon = await stripe.coupons.create({ percent_off: 50, duration: 'once' });
  await stripe.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, code: 'HALF' });
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    line_items: [{ price: monthly.id, quantity: 1 }],
    allow_promotion_codes: true,
    success_url: 'https://app.example/ok',
  });
  const done = await emulator.control(`/_emulator/checkout/sessions/${session.id}/complete`, {
    card: '4242424242424242',
    email: 'lee@example.com',
    promotion_code: 'half',
  });
  expect(done).toMatchObject({ status: 'complete', amount_total: 1000 });
  const invoice = await stripe.invoices.retrieve(String(done.invoice));
  expect(invoice).toMatchObject({ subtotal: 2000, total: 1000, amount_paid: 1000 });
});

it('discounts a payment-mode session and charges the discounted amount', async () => {
  const coupon = await stripe.coupons.create({ amount_off: 1000, currency: 'usd' });
  const session = await stripe.checkout.sessions.create({
    mode: 'payment',
    line_items: [{ price: oneTime.id, quantity: 2 }],
    discounts: [{ coupon: coupon.id }],
    success_url: 'https://app.example/ok',
  });
  expect(session).toMatchObject({ amount_subtotal: 9000, amount_total: 8000 });
  const done = await emulator.control(`/_emulator/checkout/sessions/${session.id}/complete`, {
    card: '4242424242424242',
  });
  const intent = await stripe.paymentIntents.retrieve(String(done.payment_intent));
  expect(intent).toMatchObject({ amount: 8000, status: 'succeeded' });
  expect((await stripe.coupons.retrieve(coupon.id)).times_redeemed).toBe(1);
});

it('refuses discounts with allow_promotion_codes, more than one discount, and a used-up coupon', async () => {
  const coupon = await stripe.coupons.create({ percent_off: 10, max_redemptions: 1 });
  const base = {
    mode: 'subscription' as const,
    line_items: [{ price: monthly.id, quantity: 1 }],
    success_url: 'https://app.example/ok',
  };
  const both = stripe.checkout.sessions.create({
    ...base,
    discounts: [{ coupon: coupon.id }],
    allow_promotion_codes: true,
  });
  await expect(both).rejects.toMatchObject({
    statusCode: 400,
    param: 'discounts',
    code: 'parameters_exclusive',
  });
  const two = stripe.checkout.sessions.create({
    ...base,
    discounts: [{ coupon: coupon.id }, { coupon: coupon.id }],
  });
  await expect(two).rejects.toMatchObject({ statusCode: 400, param: 'discounts' });
  const first = await stripe.checkout.sessions.create({ ...base, discounts: [{ coupon: coupon.id }] });
  const second = await stripe.checkout.sessions.create({ ...base, discounts: [{ coupon: coupon.id }] });
  await emulator.control(`/_emulator/checkout/sessions/${first.id}/complete`, { card: '4242424242424242' });
  // The coupon ran out between creating the second session and completing it: nothing is created.
  const customersBefore = (await stripe.customers.list({ limit: 100 })).data.length;
  await expect(
    emulator.control(`/_emulator/checkout/sessions/${second.id}/complete`, { card: '4242424242424242' }),
  ).rejects.toThrow(/coupon_expired|Coupon expired/);
  expect((await stripe.customers.list({ limit: 100 })).data).toHaveLength(customersBefore);
  expect((await stripe.checkout.sessions.retrieve(second.id)).status).toBe('open');
});
