/** Checkout Sessions in another currency (`currency` + `currency_options`) and with automatic tax, to the cent. */
import type Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

/** $10.00 / month, €9.00 in EUR, tax exclusive. */
async function usdWithEur(): Promise<Stripe.Price> {
  return stripe.prices.create({
    product_data: { name: 'Team' },
    currency: 'usd',
    unit_amount: 1000,
    tax_behavior: 'exclusive',
    currency_options: { eur: { unit_amount: 900 } },
    recurring: { interval: 'month' },
  });
}

async function complete(id: string): Promise<void> {
  const r = await emulator.raw('POST', `/_emulator/checkout/sessions/${id}/complete`, {
    body: new URLSearchParams({ card: '4242 4242 4242 4242', email: 'buyer@example.com' }).toString(),
    auth: null,
  });
  expect(r.status).toBe(200);
}

it('charges the EUR option when the session asks for EUR, shows it on the page, and subscribes in EUR', async () => {
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    currency: 'eur',
    line_items: [{ price: (await usdWithEur()).id, quantity: 2 }],
    success_url: 'https://app.example/success',
  });
  expect(session).toMatchObject({ currency: 'eur', amount_subtotal: 1800, amount_total: 1800 });
  const page = await fetch(String(session.url));
  expect(await page.text()).toContain('18.00 EUR');

  await complete(session.id);
  const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['subscription', 'invoice'] });
  expect((done.subscription as Stripe.Subscription).currency).toBe('eur');
  expect(done.invoice as Stripe.Invoice).toMatchObject({ currency: 'eur', amount_paid: 1800 });
});

it('refuses a currency a price does not offer', async () => {
  await expect(
    stripe.checkout.sessions.create({
      mode: 'subscription',
      currency: 'gbp',
      line_items: [{ price: (await usdWithEur()).id }],
      success_url: 'https://app.example/success',
    }),
  ).rejects.toMatchObject({ statusCode: 400, param: 'line_items[0][price]' });
});

it('adds 19 % for a German customer with automatic tax, and the subscription’s invoice charges the same', async () => {
  const customer = await stripe.customers.create({ address: { country: 'DE', postal_code: '10115' } });
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    customer: customer.id,
    automatic_tax: { enabled: true },
    line_items: [{ price: (await usdWithEur()).id, quantity: 3 }],
    success_url: 'https://app.example/success',
  });
  // $30.00 + 19 % ($5.70) = $35.70.
  expect(session.automatic_tax).toMatchObject({ enabled: true, status: 'complete' });
  expect(session.total_details?.amount_tax).toBe(570);
  expect(session.amount_total).toBe(3570);

  await complete(session.id);
  const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['invoice'] });
  expect(done.invoice as Stripe.Invoice).toMatchObject({ total: 3570, amount_paid: 3570 });
});

it('is requires_location_inputs when the session has no customer address yet', async () => {
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    automatic_tax: { enabled: true },
    line_items: [{ price: (await usdWithEur()).id }],
    success_url: 'https://app.example/success',
  });
  expect(session.automatic_tax).toMatchObject({ enabled: true, status: 'requires_location_inputs' });
  expect(session.amount_total).toBe(1000);
});
