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

async function complete(id: string, address: Record<string, string> = {}): Promise<void> {
  const r = await emulator.raw('POST', `/_emulator/checkout/sessions/${id}/complete`, {
    body: new URLSearchParams({
      card: '4242 4242 4242 4242',
      email: 'buyer@example.com',
      ...address,
    }).toString(),
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

describe('the billing address Checkout collects for automatic tax', () => {
  it('asks for it on the page, taxes it, and gives it to the new customer', async () => {
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      automatic_tax: { enabled: true },
      line_items: [{ price: (await usdWithEur()).id, quantity: 3 }],
      success_url: 'https://app.example/success',
    });
    const page = await (await fetch(String(session.url))).text();
    expect(page).toContain('name="country"');

    await complete(session.id, { country: 'DE', postal_code: '10115' });
    const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['invoice', 'customer'] });
    // $30.00 + 19 % = $35.70, on the session and on the subscription's first invoice.
    expect(done).toMatchObject({ amount_total: 3570, automatic_tax: { status: 'complete' } });
    expect(done.total_details?.amount_tax).toBe(570);
    expect(done.customer_details?.address).toMatchObject({ country: 'DE', postal_code: '10115' });
    expect((done.customer as Stripe.Customer).address).toMatchObject({ country: 'DE' });
    expect(done.invoice as Stripe.Invoice).toMatchObject({ total: 3570, amount_paid: 3570 });
  });

  it('refuses an existing customer without an address unless customer_update[address]=auto saves the new one', async () => {
    const customer = await stripe.customers.create({ email: 'known@example.com' });
    const price = await usdWithEur();
    const base = {
      mode: 'subscription' as const,
      customer: customer.id,
      automatic_tax: { enabled: true },
      line_items: [{ price: price.id }],
      success_url: 'https://app.example/success',
    };
    await expect(stripe.checkout.sessions.create(base)).rejects.toMatchObject({
      statusCode: 400,
      param: 'automatic_tax[enabled]',
    });
    const session = await stripe.checkout.sessions.create({ ...base, customer_update: { address: 'auto' } });
    expect(session.automatic_tax.status).toBe('requires_location_inputs');
    await complete(session.id, { country: 'FR', postal_code: '75001' });
    const saved = (await stripe.customers.retrieve(customer.id)) as Stripe.Customer;
    expect(saved.address).toMatchObject({ country: 'FR', postal_code: '75001' });
    const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['invoice'] });
    expect(done.invoice as Stripe.Invoice).toMatchObject({ total: 1200 });
  });

  it('charges a one-time payment with the tax of the collected address', async () => {
    const oneTime = await stripe.prices.create({
      product_data: { name: 'Setup' },
      currency: 'usd',
      unit_amount: 5000,
      tax_behavior: 'exclusive',
    });
    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      automatic_tax: { enabled: true },
      line_items: [{ price: oneTime.id }],
      success_url: 'https://app.example/success',
    });
    await complete(session.id, { country: 'GB' });
    const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
    // $50.00 + 20 % = $60.00.
    expect(done.amount_total).toBe(6000);
    expect((done.payment_intent as Stripe.PaymentIntent).amount).toBe(6000);
  });

  it('takes the address typed into the hosted page’s form', async () => {
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      automatic_tax: { enabled: true },
      line_items: [{ price: (await usdWithEur()).id }],
      success_url: 'https://app.example/success',
    });
    const submitted = await fetch(String(session.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        email: 'page@example.com',
        card: '4242 4242 4242 4242',
        country: 'US',
        postal_code: '94103',
        state: 'CA',
      }).toString(),
      redirect: 'manual',
    });
    expect(submitted.status).toBe(303);
    const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['invoice'] });
    // $10.00 + 7.25 % ($0.725 → $0.73) = $10.73.
    expect(done.amount_total).toBe(1073);
    expect(done.invoice as Stripe.Invoice).toMatchObject({ total: 1073, amount_paid: 1073 });
  });

  it('taxes a discounted session on the amount after the discount', async () => {
    const customer = await stripe.customers.create({ address: { country: 'DE' } });
    const coupon = await stripe.coupons.create({ percent_off: 20, duration: 'forever' });
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customer.id,
      automatic_tax: { enabled: true },
      discounts: [{ coupon: coupon.id }],
      line_items: [{ price: (await usdWithEur()).id, quantity: 3 }],
      success_url: 'https://app.example/success',
    });
    // $30.00 − 20 % = $24.00; 19 % = $4.56; $28.56.
    expect(session.total_details).toMatchObject({ amount_discount: 600, amount_tax: 456 });
    expect(session.amount_total).toBe(2856);
    await complete(session.id);
    const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['invoice'] });
    expect(done.invoice as Stripe.Invoice).toMatchObject({ total: 2856, amount_paid: 2856 });
  });
});
