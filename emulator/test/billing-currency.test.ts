/**
 * Multi-currency prices (`currency_options`) and the customer's currency, to the cent: a subscription in EUR
 * charges the EUR option; the customer's currency is fixed by its first subscription.
 */
import type Stripe from 'stripe';
import { useEmulatorPerFile } from './core-helpers';
import { advanceClock, T0 } from './billing-helpers';

let stripe: Stripe;

useEmulatorPerFile((started) => {
  stripe = started.stripe;
});

const FEB1 = Date.UTC(2026, 1, 1) / 1000;
const HOUR = 3600;

/** $10.00 / month, €9.00 in EUR. */
async function usdWithEur(): Promise<Stripe.Price> {
  return stripe.prices.create({
    product_data: { name: 'Pro' },
    currency: 'usd',
    unit_amount: 1000,
    tax_behavior: 'exclusive',
    currency_options: { eur: { unit_amount: 900, tax_behavior: 'exclusive' } },
    recurring: { interval: 'month' },
  });
}

async function customerOnClock(
  extra: Partial<Stripe.CustomerCreateParams> = {},
): Promise<{ customer: Stripe.Customer; clock: string }> {
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: T0 });
  const customer = await stripe.customers.create({
    test_clock: clock.id,
    payment_method: 'pm_card_visa',
    invoice_settings: { default_payment_method: 'pm_card_visa' },
    ...extra,
  });
  return { customer, clock: clock.id };
}

describe('price currency_options', () => {
  it('is returned only when expanded, with the base currency listed too', async () => {
    const price = await usdWithEur();
    expect(price).not.toHaveProperty('currency_options');
    const expanded = await stripe.prices.retrieve(price.id, { expand: ['currency_options'] });
    expect(expanded.currency_options?.usd).toMatchObject({ unit_amount: 1000 });
    expect(expanded.currency_options?.eur).toMatchObject({ unit_amount: 900, tax_behavior: 'exclusive' });
  });

  it('adds an option on update (JPY, a zero-decimal currency: amounts are already whole yen)', async () => {
    const price = await usdWithEur();
    await stripe.prices.update(price.id, { currency_options: { jpy: { unit_amount: 1500 } } });
    const { customer } = await customerOnClock();
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      currency: 'jpy',
      items: [{ price: price.id }],
      expand: ['latest_invoice'],
    });
    const invoice = subscription.latest_invoice as Stripe.Invoice;
    expect(invoice.currency).toBe('jpy');
    expect(invoice.amount_paid).toBe(1500);
  });

  it('refuses an option for the price’s own currency', async () => {
    await expect(
      stripe.prices.create({
        product_data: { name: 'x' },
        currency: 'usd',
        unit_amount: 100,
        currency_options: { usd: { unit_amount: 90 } },
      }),
    ).rejects.toMatchObject({ statusCode: 400, param: 'currency_options[usd]' });
  });
});

describe('subscriptions in another currency', () => {
  it('charges the EUR option and fixes the customer’s currency; renewals stay in EUR', async () => {
    const { customer, clock } = await customerOnClock();
    expect(customer.currency).toBeNull();
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      currency: 'eur',
      items: [{ price: (await usdWithEur()).id, quantity: 2 }],
      expand: ['latest_invoice'],
    });
    expect(subscription.currency).toBe('eur');
    const first = subscription.latest_invoice as Stripe.Invoice;
    expect(first).toMatchObject({ currency: 'eur', subtotal: 1800, amount_paid: 1800 });
    expect(first.lines.data[0]).toMatchObject({ currency: 'eur', amount: 1800 });
    expect((await stripe.customers.retrieve(customer.id)) as Stripe.Customer).toMatchObject({
      currency: 'eur',
    });

    await advanceClock(stripe, clock, FEB1 + 2 * HOUR);
    const renewal = await stripe.invoices.list({ subscription: subscription.id, limit: 1 });
    expect(renewal.data[0]).toMatchObject({
      billing_reason: 'subscription_cycle',
      currency: 'eur',
      total: 1800,
    });
  });

  it('bills a customer whose currency is EUR in EUR without being asked', async () => {
    const { customer } = await customerOnClock();
    const price = await usdWithEur();
    await stripe.subscriptions.create({
      customer: customer.id,
      currency: 'eur',
      items: [{ price: price.id }],
    });
    const second = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: (await usdWithEur()).id }],
      expand: ['latest_invoice'],
    });
    expect(second.currency).toBe('eur');
    expect((second.latest_invoice as Stripe.Invoice).amount_paid).toBe(900);
  });

  it('refuses a second active subscription in another currency, and a price without that option', async () => {
    const { customer } = await customerOnClock();
    const price = await usdWithEur();
    await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    await expect(
      stripe.subscriptions.create({ customer: customer.id, currency: 'eur', items: [{ price: price.id }] }),
    ).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringContaining('cannot combine currencies'),
    });
    await expect(
      stripe.subscriptions.create({ customer: customer.id, currency: 'gbp', items: [{ price: price.id }] }),
    ).rejects.toMatchObject({ statusCode: 400, param: 'items[0][price]' });
  });

  it('taxes the EUR option: a DE customer pays 19 % on €9.00 × 3', async () => {
    const { customer } = await customerOnClock({ address: { country: 'DE', postal_code: '10115' } });
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      currency: 'eur',
      automatic_tax: { enabled: true },
      items: [{ price: (await usdWithEur()).id, quantity: 3 }],
      expand: ['latest_invoice'],
    });
    const invoice = subscription.latest_invoice as Stripe.Invoice;
    // €27.00 + 19 % (€5.13) = €32.13.
    expect(invoice).toMatchObject({ currency: 'eur', subtotal: 2700, total: 3213, amount_paid: 3213 });
    expect(invoice.total_taxes?.[0]).toMatchObject({ amount: 513, taxable_amount: 2700 });
  });

  it('refuses to change a EUR subscription to a price without EUR, changing nothing', async () => {
    const { customer } = await customerOnClock();
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      currency: 'eur',
      items: [{ price: (await usdWithEur()).id }],
    });
    const usdOnly = await stripe.prices.create({
      product_data: { name: 'Legacy' },
      currency: 'usd',
      unit_amount: 500,
      recurring: { interval: 'month' },
    });
    const change = { items: [{ id: subscription.items.data[0].id, price: usdOnly.id }] };
    await expect(stripe.subscriptions.update(subscription.id, change)).rejects.toMatchObject({
      statusCode: 400,
      param: 'items[0][price]',
    });
    await expect(
      stripe.invoices.createPreview({ subscription: subscription.id, subscription_details: change }),
    ).rejects.toMatchObject({ statusCode: 400, param: 'subscription_details[items][0][price]' });
    const unchanged = await stripe.subscriptions.retrieve(subscription.id);
    expect(unchanged.items.data[0].price.id).toBe(subscription.items.data[0].price.id);
  });

  it('previews a new subscription in EUR from the currency_options', async () => {
    const { customer } = await customerOnClock();
    const preview = await stripe.invoices.createPreview({
      customer: customer.id,
      currency: 'eur',
      subscription_details: { items: [{ price: (await usdWithEur()).id, quantity: 2 }] },
    });
    expect(preview).toMatchObject({ currency: 'eur', billing_reason: 'subscription_create', total: 1800 });
  });

  it('keeps a price’s tax_behavior once set', async () => {
    const price = await usdWithEur();
    await expect(stripe.prices.update(price.id, { tax_behavior: 'inclusive' })).rejects.toMatchObject({
      statusCode: 400,
      param: 'tax_behavior',
    });
    expect((await stripe.prices.update(price.id, { tax_behavior: 'exclusive' })).tax_behavior).toBe(
      'exclusive',
    );
    const unspecified = await stripe.prices.create({
      product_data: { name: 'x' },
      currency: 'usd',
      unit_amount: 1,
    });
    expect((await stripe.prices.update(unspecified.id, { tax_behavior: 'inclusive' })).tax_behavior).toBe(
      'inclusive',
    );
  });
});

describe('invoice items of a price with currency_options', () => {
  /** A one-time pack: $10.00, €9.00 in EUR. */
  async function pack(): Promise<Stripe.Price> {
    return stripe.prices.create({
      product_data: { name: 'Credits' },
      currency: 'usd',
      unit_amount: 1000,
      currency_options: { eur: { unit_amount: 900 } },
    });
  }

  it('bills the option of the currency asked for, on an invoice in that currency', async () => {
    const price = await pack();
    const { customer } = await customerOnClock();
    const invoice = await stripe.invoices.create({
      customer: customer.id,
      currency: 'eur',
      pending_invoice_items_behavior: 'exclude',
    });
    const item = await stripe.invoiceItems.create({
      customer: customer.id,
      invoice: invoice.id,
      currency: 'eur',
      pricing: { price: price.id },
    });
    expect(item).toMatchObject({ currency: 'eur', amount: 900 });
    const paid = await stripe.invoices.pay(invoice.id as string, { off_session: true });
    expect(paid).toMatchObject({ status: 'paid', currency: 'eur', total: 900, amount_paid: 900 });
  });

  it("bills the price's own currency without one, and refuses a currency the price does not offer", async () => {
    const price = await pack();
    const { customer } = await customerOnClock();
    const item = await stripe.invoiceItems.create({ customer: customer.id, pricing: { price: price.id } });
    expect(item).toMatchObject({ currency: 'usd', amount: 1000 });
    await expect(
      stripe.invoiceItems.create({ customer: customer.id, currency: 'gbp', pricing: { price: price.id } }),
    ).rejects.toMatchObject({ statusCode: 400, param: 'pricing[price]' });
  });
});
