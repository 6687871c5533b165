/**
 * One-time payments through Checkout in `payment` mode (what a credit pack purchase does), through the real SDK and
 * the emulator's completion control (the hosted page's form in one request):
 * - a one-time price with session `metadata` and `payment_intent_data[metadata]`: `checkout.session.completed`
 *   (`payment_status: paid`, `payment_intent`), `payment_intent.succeeded` carrying the intent's metadata,
 *   `charge.succeeded` with a `receipt_url` (https://docs.stripe.com/receipts);
 * - `invoice_creation[enabled]`: a paid invoice of the session's lines, paid by the session's own payment
 *   (https://stripe.com/docs/payments/checkout/post-payment-invoices);
 * - a recurring price in payment mode is refused as the live API refuses it;
 * - the card is saved to the customer only with `payment_intent_data[setup_future_usage]`
 *   (https://docs.stripe.com/payments/save-during-payment).
 */
import type Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import { eventsOf, eventTypes } from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

/** A one-time price of $25.00 for a pack of credits. */
async function packPrice(): Promise<Stripe.Price> {
  const product = await stripe.products.create({ name: 'Credit pack 5,000' });
  return stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 2500 });
}

async function complete(sessionId: string, card = '4242424242424242'): Promise<Record<string, unknown>> {
  return emulator.control(`/_emulator/checkout/sessions/${sessionId}/complete`, { card });
}

async function packSession(
  customer: string | undefined,
  extra: Partial<Stripe.Checkout.SessionCreateParams> = {},
): Promise<Stripe.Checkout.Session> {
  const price = await packPrice();
  return stripe.checkout.sessions.create({
    mode: 'payment',
    customer,
    line_items: [{ price: price.id, quantity: 2 }],
    metadata: { accountId: 'acct_42', packKey: 'pack_5k' },
    payment_intent_data: { metadata: { accountId: 'acct_42', packKey: 'pack_5k', credits: '10000' } },
    success_url: 'https://app.example/credits?session={CHECKOUT_SESSION_ID}',
    cancel_url: 'https://app.example/credits',
    ...extra,
  });
}

it('a pack bought in payment mode: session paid, intent and charge events with metadata and a receipt', async () => {
  const customer = await stripe.customers.create({ email: 'buyer@example.com' });
  const session = await packSession(customer.id);
  expect(session).toMatchObject({
    mode: 'payment',
    status: 'open',
    payment_status: 'unpaid',
    amount_total: 5000,
    payment_intent: null,
    invoice_creation: { enabled: false },
  });

  await complete(session.id);

  const done = await stripe.checkout.sessions.retrieve(session.id);
  expect(done).toMatchObject({
    status: 'complete',
    payment_status: 'paid',
    invoice: null,
    customer: customer.id,
  });
  const [completed] = await eventsOf(stripe, 'checkout.session.completed');
  const completedSession = completed.data.object as Stripe.Checkout.Session;
  expect(completedSession).toMatchObject({
    id: session.id,
    payment_status: 'paid',
    metadata: { accountId: 'acct_42', packKey: 'pack_5k' },
  });
  expect(completedSession.payment_intent).toMatch(/^pi_/);

  const [succeeded] = await eventsOf(stripe, 'payment_intent.succeeded');
  expect(succeeded.data.object).toMatchObject({
    id: completedSession.payment_intent,
    amount: 5000,
    amount_received: 5000,
    customer: customer.id,
    metadata: { accountId: 'acct_42', packKey: 'pack_5k', credits: '10000' },
  });
  const [chargeEvent] = await eventsOf(stripe, 'charge.succeeded');
  const charge = chargeEvent.data.object as Stripe.Charge;
  expect(charge).toMatchObject({
    payment_intent: completedSession.payment_intent,
    amount: 5000,
    paid: true,
    metadata: { credits: '10000' },
    receipt_email: null,
    receipt_number: null,
  });
  expect(charge.receipt_url).toBe(`${emulator.url}/receipts/payment/${charge.id}`);
  const receipt = await fetch(String(charge.receipt_url));
  expect(receipt.status).toBe(200);
  expect(await receipt.text()).toContain('$50.00');

  const types = await eventTypes(stripe, (e) => !['product.created', 'price.created'].includes(e.type));
  expect(types).toEqual([
    'customer.created',
    'payment_intent.created',
    'charge.succeeded',
    'payment_intent.succeeded',
    'checkout.session.completed',
  ]);
  // No setup_future_usage: the card is not saved to the customer.
  expect((await stripe.customers.listPaymentMethods(customer.id)).data).toEqual([]);
});

it('invoice_creation: a paid invoice of the pack, paid by the session payment, before completed', async () => {
  const customer = await stripe.customers.create({ email: 'invoiced@example.com' });
  const session = await packSession(customer.id, {
    invoice_creation: { enabled: true, invoice_data: { metadata: { packKey: 'pack_5k' } } },
  });
  expect(session.invoice_creation).toMatchObject({
    enabled: true,
    invoice_data: { metadata: { packKey: 'pack_5k' } },
  });
  await complete(session.id);

  const done = await stripe.checkout.sessions.retrieve(session.id);
  expect(done.invoice).toMatch(/^in_/);
  const invoice = await stripe.invoices.retrieve(String(done.invoice), { expand: ['payments'] });
  expect(invoice).toMatchObject({
    status: 'paid',
    customer: customer.id,
    amount_paid: 5000,
    amount_remaining: 0,
    total: 5000,
    metadata: { packKey: 'pack_5k' },
    parent: null,
  });
  expect(invoice.number).toEqual(expect.any(String));
  expect(invoice.lines.data).toHaveLength(1);
  const price = (await stripe.checkout.sessions.listLineItems(session.id)).data[0].price?.id;
  expect(invoice.lines.data[0]).toMatchObject({
    amount: 5000,
    quantity: 2,
    pricing: { price_details: { price } },
  });
  expect(invoice.payments?.data[0]).toMatchObject({
    status: 'paid',
    amount_paid: 5000,
    payment: { type: 'payment_intent', payment_intent: done.payment_intent },
  });
  // The session's payment paid the invoice: one payment intent, one charge.
  expect((await stripe.paymentIntents.list({ customer: customer.id })).data).toHaveLength(1);
  expect((await stripe.charges.list({ customer: customer.id })).data).toHaveLength(1);

  const types = await eventTypes(
    stripe,
    (e) =>
      e.type.startsWith('invoice.') || e.type.startsWith('payment_intent.') || e.type.startsWith('checkout.'),
  );
  expect(types).toEqual([
    'payment_intent.created',
    'payment_intent.succeeded',
    'invoice.created',
    'invoice.finalized',
    'invoice.updated',
    'invoice.paid',
    'invoice.payment_succeeded',
    'checkout.session.completed',
  ]);
  const [paidEvent] = await eventsOf(stripe, 'invoice.paid');
  expect((paidEvent.data.object as Stripe.Invoice).id).toBe(invoice.id);
});

it('invoice_creation without a customer: the session creates one (customer_creation if_required needs it)', async () => {
  const session = await packSession(undefined, {
    customer_email: 'guest@example.com',
    invoice_creation: { enabled: true },
  });
  await complete(session.id);
  const done = await stripe.checkout.sessions.retrieve(session.id);
  expect(done.customer).toMatch(/^cus_/);
  const invoice = await stripe.invoices.retrieve(String(done.invoice));
  expect(invoice).toMatchObject({
    status: 'paid',
    customer: done.customer,
    customer_email: 'guest@example.com',
  });

  // Without invoice_creation a guest payment creates no customer.
  const guest = await packSession(undefined, { customer_email: 'guest2@example.com' });
  await complete(guest.id);
  expect((await stripe.checkout.sessions.retrieve(guest.id)).customer).toBeNull();
});

it('a recurring price in payment mode is refused as Stripe refuses it, and nothing is created', async () => {
  const product = await stripe.products.create({ name: 'Team' });
  const monthly = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 1500,
    recurring: { interval: 'month' },
  });
  await expect(
    stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price: monthly.id, quantity: 1 }],
      success_url: 'https://app.example/ok',
    }),
  ).rejects.toMatchObject({
    statusCode: 400,
    type: 'StripeInvalidRequestError',
    param: 'line_items[0][price]',
    message:
      'You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.',
  });
  expect((await stripe.checkout.sessions.list()).data).toHaveLength(0);
});

it('payment_intent_data and invoice_creation belong to payment mode only', async () => {
  const product = await stripe.products.create({ name: 'Team' });
  const monthly = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 1500,
    recurring: { interval: 'month' },
  });
  for (const extra of [
    { payment_intent_data: { metadata: { a: 'b' } } },
    { invoice_creation: { enabled: true } },
  ]) {
    await expect(
      stripe.checkout.sessions.create({
        mode: 'subscription',
        line_items: [{ price: monthly.id, quantity: 1 }],
        success_url: 'https://app.example/ok',
        ...extra,
      }),
    ).rejects.toMatchObject({ statusCode: 400, param: Object.keys(extra)[0] });
  }
});

it('setup_future_usage saves the card to the customer once the payment succeeded', async () => {
  const customer = await stripe.customers.create({ email: 'saver@example.com' });
  const session = await packSession(customer.id, {
    payment_intent_data: { setup_future_usage: 'off_session', metadata: { packKey: 'pack_5k' } },
  });
  await complete(session.id);
  const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
  const intent = done.payment_intent as Stripe.PaymentIntent;
  expect(intent).toMatchObject({ status: 'succeeded', setup_future_usage: 'off_session' });
  const saved = await stripe.customers.listPaymentMethods(customer.id);
  expect(saved.data.map((pm) => pm.id)).toEqual([intent.payment_method]);
});

it('a declined card leaves the pack unpaid: 402, the session open, no completed event', async () => {
  const customer = await stripe.customers.create({});
  const session = await packSession(customer.id);
  const answer = await emulator.raw('POST', `/_emulator/checkout/sessions/${session.id}/complete`, {
    body: new URLSearchParams({ card: '4000000000009995' }).toString(),
    auth: null,
  });
  expect(answer.status).toBe(402);
  expect(answer.json).toMatchObject({ error: { type: 'card_error', decline_code: 'insufficient_funds' } });
  expect(await stripe.checkout.sessions.retrieve(session.id)).toMatchObject({
    status: 'open',
    payment_status: 'unpaid',
  });
  expect(await eventsOf(stripe, 'checkout.session.completed')).toEqual([]);
});
