/**
 * Automatic tax on subscription invoices and previews, against the emulator's fixed rate table (README, "Tax"):
 * every amount is worked out by hand to the cent. The seller's origin is the default, IE.
 */
import type Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import { advanceClock, DAY, T0 } from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

async function monthlyPrice(
  unitAmount: number,
  currency = 'usd',
  taxBehavior: Stripe.PriceCreateParams.TaxBehavior = 'exclusive',
): Promise<Stripe.Price> {
  return stripe.prices.create({
    product_data: { name: 'Pro' },
    currency,
    unit_amount: unitAmount,
    tax_behavior: taxBehavior,
    recurring: { interval: 'month' },
  });
}

async function customerAt(
  address: Stripe.AddressParam | null,
  extra: Partial<Stripe.CustomerCreateParams> = {},
): Promise<Stripe.Customer> {
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: T0 });
  return stripe.customers.create({
    test_clock: clock.id,
    payment_method: 'pm_card_visa',
    invoice_settings: { default_payment_method: 'pm_card_visa' },
    ...(address ? { address } : {}),
    ...extra,
  });
}

async function subscribeWithTax(customer: Stripe.Customer, price: Stripe.Price): Promise<Stripe.Invoice> {
  const subscription = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id, quantity: 3 }],
    automatic_tax: { enabled: true },
    expand: ['latest_invoice'],
  });
  expect(subscription.automatic_tax.enabled).toBe(true);
  return subscription.latest_invoice as Stripe.Invoice;
}

function onlyTax(invoice: Stripe.Invoice): Stripe.InvoiceLineItem.Tax {
  const taxes = invoice.lines.data.flatMap((line) => line.taxes ?? []);
  expect(taxes).toHaveLength(1);
  return taxes[0];
}

describe('automatic tax on subscription invoices', () => {
  it('charges a DE customer 19 % on top of an exclusive $ price, per line, and pays the total', async () => {
    const customer = await customerAt({ country: 'DE', postal_code: '10115' });
    const invoice = await subscribeWithTax(customer, await monthlyPrice(1999));
    // 3 × $19.99 = $59.97; 19 % = 11.3943 → $11.39; total $71.36.
    expect(invoice.subtotal).toBe(5997);
    expect(invoice.automatic_tax).toMatchObject({ enabled: true, status: 'complete' });
    const tax = onlyTax(invoice);
    expect(tax).toMatchObject({
      amount: 1139,
      taxable_amount: 5997,
      tax_behavior: 'exclusive',
      taxability_reason: 'standard_rated',
    });
    expect(invoice.total_taxes).toEqual([tax]);
    expect(invoice.total_excluding_tax).toBe(5997);
    expect(invoice.total).toBe(7136);
    expect(invoice.amount_paid).toBe(7136);
    const page = await (await fetch(String(invoice.hosted_invoice_url))).text();
    expect(page).toMatch(/VAT \(19 %\)<\/td><td class="num">\$11\.39</);
    expect(page).not.toContain('reverse-charge');
    const rate = await stripe.taxRates.retrieve(tax.tax_rate_details?.tax_rate ?? '');
    expect(rate).toMatchObject({ percentage: 19, country: 'DE', jurisdiction: 'DE', tax_type: 'vat' });
  });

  it('takes 19 % out of an inclusive € price instead of adding it', async () => {
    const customer = await customerAt({ country: 'DE' });
    const invoice = await subscribeWithTax(customer, await monthlyPrice(1190, 'eur', 'inclusive'));
    // 3 × €11.90 = €35.70 includes VAT: net 35.70 / 1.19 = €30.00, tax €5.70; the total stays €35.70.
    expect(invoice.currency).toBe('eur');
    expect(onlyTax(invoice)).toMatchObject({ amount: 570, taxable_amount: 3000, tax_behavior: 'inclusive' });
    expect(invoice.subtotal).toBe(3570);
    expect(invoice.subtotal_excluding_tax).toBe(3000);
    expect(invoice.total).toBe(3570);
    expect(invoice.total_excluding_tax).toBe(3000);
  });

  it('charges a US-CA customer 7.25 % (rounded per line) and another US state nothing', async () => {
    const ca = await customerAt({ country: 'US', state: 'CA', postal_code: '94103' });
    const caInvoice = await subscribeWithTax(ca, await monthlyPrice(1999));
    // 7.25 % of $59.97 = 4.347825 → $4.35; total $64.32.
    expect(onlyTax(caInvoice)).toMatchObject({ amount: 435, taxability_reason: 'standard_rated' });
    expect(caInvoice.total).toBe(6432);

    const ny = await customerAt({ country: 'US', state: 'NY', postal_code: '10001' });
    const nyInvoice = await subscribeWithTax(ny, await monthlyPrice(1999));
    expect(onlyTax(nyInvoice)).toMatchObject({ amount: 0, taxability_reason: 'not_collecting' });
    expect(nyInvoice.total).toBe(5997);
  });

  it('reverse-charges a business in another EU country with a verified VAT ID, listing the ID on the invoice', async () => {
    const customer = await customerAt(
      { country: 'DE', postal_code: '10115' },
      { tax_id_data: [{ type: 'eu_vat', value: 'DE123456789' }] },
    );
    const invoice = await subscribeWithTax(customer, await monthlyPrice(1999));
    expect(onlyTax(invoice)).toMatchObject({ amount: 0, taxability_reason: 'reverse_charge' });
    expect(invoice.total).toBe(5997);
    expect(invoice.customer_tax_ids).toEqual([{ type: 'eu_vat', value: 'DE123456789' }]);
    const page = await (await fetch(String(invoice.hosted_invoice_url))).text();
    expect(page).toContain('eu_vat DE123456789');
    expect(page).toContain('id="reverse-charge"');
    expect(page).toContain('VAT (0 %), reverse charge');
  });

  it('charges VAT when the VAT ID is unverified, or the buyer is in the seller’s own country', async () => {
    const unverified = await customerAt(
      { country: 'DE' },
      { tax_id_data: [{ type: 'eu_vat', value: 'DE111111111' }] },
    );
    expect(onlyTax(await subscribeWithTax(unverified, await monthlyPrice(1000)))).toMatchObject({
      amount: 570,
      taxability_reason: 'standard_rated',
    });
    const domestic = await customerAt(
      { country: 'IE' },
      { tax_id_data: [{ type: 'eu_vat', value: 'IE1234567AB' }] },
    );
    // 23 % of 3 × $10.00 = $6.90.
    expect(onlyTax(await subscribeWithTax(domestic, await monthlyPrice(1000))).amount).toBe(690);
  });

  it('is requires_location_inputs without an address, and finalizes with automatic tax disabled', async () => {
    const customer = await customerAt(null);
    const invoice = await subscribeWithTax(customer, await monthlyPrice(1000));
    expect(invoice.automatic_tax).toMatchObject({
      enabled: false,
      disabled_reason: 'finalization_requires_location_inputs',
    });
    expect(invoice.total).toBe(3000);

    const preview = await stripe.invoices.createPreview({ customer: customer.id });
    expect(preview.automatic_tax).toMatchObject({ enabled: true, status: 'requires_location_inputs' });
    expect(preview.total_taxes).toEqual([]);
    expect(preview.total).toBe(3000);
  });

  it('treats a US address without a 5-digit ZIP as an unknown location', async () => {
    const customer = await customerAt({ country: 'US', state: 'CA' });
    const invoice = await subscribeWithTax(customer, await monthlyPrice(1000));
    expect(invoice.automatic_tax.disabled_reason).toBe('finalization_requires_location_inputs');
    expect(invoice.total_taxes).toEqual([]);
  });

  it('exempts a tax_exempt=exempt customer with a zero customer_exempt tax', async () => {
    const customer = await customerAt({ country: 'FR' }, { tax_exempt: 'exempt' });
    const invoice = await subscribeWithTax(customer, await monthlyPrice(1000));
    expect(onlyTax(invoice)).toMatchObject({ amount: 0, taxability_reason: 'customer_exempt' });
    expect(invoice.customer_tax_exempt).toBe('exempt');
    expect(invoice.total).toBe(3000);
  });
});

describe('automatic tax after discounts', () => {
  it('taxes each line on its amount after its discount, as Stripe orders them', async () => {
    const customer = await customerAt({ country: 'DE' });
    const coupon = await stripe.coupons.create({ percent_off: 20, duration: 'forever' });
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: (await monthlyPrice(1000)).id, quantity: 3 }],
      discounts: [{ coupon: coupon.id }],
      automatic_tax: { enabled: true },
      expand: ['latest_invoice'],
    });
    const invoice = subscription.latest_invoice as Stripe.Invoice;
    // $30.00 − 20 % = $24.00 taxable; 19 % = $4.56; total $28.56.
    expect(invoice.subtotal).toBe(3000);
    expect(onlyTax(invoice)).toMatchObject({ amount: 456, taxable_amount: 2400 });
    expect(invoice.total_excluding_tax).toBe(2400);
    expect(invoice.total).toBe(2856);
    expect(invoice.amount_paid).toBe(2856);
  });
});

describe('automatic tax on prorations', () => {
  it('taxes each proration line on its own, the credit negatively', async () => {
    const customer = await customerAt({ country: 'DE' });
    const basic = await monthlyPrice(1000);
    const pro = await monthlyPrice(3000);
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: basic.id }],
      automatic_tax: { enabled: true },
    });
    await advanceClock(stripe, String(customer.test_clock), T0 + 15 * DAY);
    const updated = await stripe.subscriptions.update(subscription.id, {
      items: [{ id: subscription.items.data[0].id, price: pro.id }],
      proration_behavior: 'always_invoice',
      expand: ['latest_invoice'],
    });
    const invoice = updated.latest_invoice as Stripe.Invoice;
    // 16 of 31 days left: credit -round(1000 × 16/31) = -516, debit round(3000 × 16/31) = 1548;
    // 19 % of each: -98.04 → -98 and 294.12 → 294; total 1032 + 196 = 1228.
    const byAmount = invoice.lines.data.map((l) => [l.amount, l.taxes?.[0]?.amount]);
    expect(byAmount).toEqual(
      expect.arrayContaining([
        [-516, -98],
        [1548, 294],
      ]),
    );
    expect(invoice.total_taxes?.[0]).toMatchObject({ amount: 196, taxable_amount: 1032 });
    expect(invoice.total).toBe(1228);
    expect(invoice.amount_paid).toBe(1228);
  });
});

describe('automatic tax on previews', () => {
  it('previews the next renewal of a taxed subscription with the same tax', async () => {
    const customer = await customerAt({ country: 'FR', postal_code: '75001' });
    const price = await monthlyPrice(1999);
    await subscribeWithTax(customer, price);
    const preview = await stripe.invoices.createPreview({ customer: customer.id });
    // 20 % of $59.97 = 11.994 → $11.99.
    expect(preview.automatic_tax.status).toBe('complete');
    expect(preview.total_taxes?.[0]).toMatchObject({ amount: 1199, taxable_amount: 5997 });
    expect(preview.total).toBe(7196);
  });

  it('previews without tax when automatic_tax is off, and with it when the preview asks', async () => {
    const customer = await customerAt({ country: 'GB', postal_code: 'SW1A 1AA' });
    const price = await monthlyPrice(1000);
    await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    const plain = await stripe.invoices.createPreview({ customer: customer.id });
    expect(plain.automatic_tax.enabled).toBe(false);
    expect(plain.total).toBe(1000);
    const taxed = await stripe.invoices.createPreview({
      customer: customer.id,
      automatic_tax: { enabled: true },
    });
    expect(taxed.total_taxes?.[0]).toMatchObject({ amount: 200, taxability_reason: 'standard_rated' });
    expect(taxed.total).toBe(1200);
  });
});

describe('previews before anything is saved', () => {
  it('previews the first invoice of a new subscription with tax', async () => {
    const customer = await customerAt({ country: 'DE', postal_code: '10115' });
    const price = await monthlyPrice(1000);
    const preview = await stripe.invoices.createPreview({
      customer: customer.id,
      subscription_details: { items: [{ price: price.id, quantity: 2 }] },
      automatic_tax: { enabled: true },
    });
    // 2 × $10.00 + 19 % = $23.80.
    expect(preview).toMatchObject({ billing_reason: 'subscription_create', subtotal: 2000, total: 2380 });
    expect(preview.lines.data[0].period.start).toBe(T0);
    expect((await stripe.subscriptions.list({ customer: customer.id })).data).toEqual([]);
  });

  it('taxes with customer_details instead of the stored customer, saving nothing', async () => {
    const customer = await customerAt(null);
    const price = await monthlyPrice(1000);
    const inFrance = await stripe.invoices.createPreview({
      customer: customer.id,
      subscription_details: { items: [{ price: price.id }] },
      automatic_tax: { enabled: true },
      customer_details: { address: { country: 'FR' } },
    });
    expect(inFrance.automatic_tax.status).toBe('complete');
    expect(inFrance.total).toBe(1200);
    const business = await stripe.invoices.createPreview({
      customer: customer.id,
      subscription_details: { items: [{ price: price.id }] },
      automatic_tax: { enabled: true },
      customer_details: { address: { country: 'FR' }, tax_ids: [{ type: 'eu_vat', value: 'FR12345678901' }] },
    });
    expect(business.total_taxes?.[0]).toMatchObject({ amount: 0, taxability_reason: 'reverse_charge' });
    expect(business.customer_tax_ids).toEqual([{ type: 'eu_vat', value: 'FR12345678901' }]);
    const stored = await stripe.customers.retrieve(customer.id, { expand: ['tax_ids'] });
    expect((stored as Stripe.Customer).address).toBeNull();
    expect((stored as Stripe.Customer).tax_ids?.data).toEqual([]);
  });
});

describe('tax rates and settings', () => {
  it('creates, lists, retrieves and updates manual tax rates', async () => {
    const rate = await stripe.taxRates.create({
      display_name: 'VAT',
      percentage: 21,
      inclusive: false,
      country: 'NL',
      jurisdiction: 'NL',
    });
    expect(rate).toMatchObject({ object: 'tax_rate', active: true, percentage: 21, inclusive: false });
    const updated = await stripe.taxRates.update(rate.id, { active: false, metadata: { k: 'v' } });
    expect(updated).toMatchObject({ active: false, metadata: { k: 'v' } });
    const active = await stripe.taxRates.list({ active: true });
    expect(active.data.map((r) => r.id)).not.toContain(rate.id);
    await expect(
      stripe.taxRates.create({ display_name: 'x', percentage: 120, inclusive: false }),
    ).rejects.toMatchObject({
      statusCode: 400,
      param: 'percentage',
    });
  });

  it('reads the seller origin from the emulator setting: from DE, a DE business pays German VAT', async () => {
    await emulator.control('/_emulator/tax/settings', { origin_country: 'DE' });
    try {
      const customer = await customerAt(
        { country: 'DE' },
        { tax_id_data: [{ type: 'eu_vat', value: 'DE123456789' }] },
      );
      expect(onlyTax(await subscribeWithTax(customer, await monthlyPrice(1000)))).toMatchObject({
        amount: 570,
        taxability_reason: 'standard_rated',
      });
    } finally {
      await emulator.control('/_emulator/tax/settings', { reset: true });
    }
  });

  it('charges a subscription’s default_tax_rates on its invoices, and refuses them with automatic tax', async () => {
    const salesTax = await stripe.taxRates.create({
      display_name: 'Sales tax',
      percentage: 8.875,
      inclusive: false,
    });
    const customer = await customerAt(null);
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: (await monthlyPrice(1999)).id, quantity: 3 }],
      default_tax_rates: [salesTax.id],
      expand: ['latest_invoice'],
    });
    expect(subscription.default_tax_rates?.map((r) => r.id)).toEqual([salesTax.id]);
    const invoice = subscription.latest_invoice as Stripe.Invoice;
    // 8.875 % of $59.97 = 5.32233… → $5.32.
    expect(invoice.default_tax_rates.map((r) => r.id)).toEqual([salesTax.id]);
    expect(onlyTax(invoice)).toMatchObject({
      amount: 532,
      taxable_amount: 5997,
      tax_rate_details: { tax_rate: salesTax.id },
    });
    expect(invoice.total).toBe(6529);

    await expect(
      stripe.subscriptions.update(subscription.id, { automatic_tax: { enabled: true } }),
    ).rejects.toMatchObject({ statusCode: 400, param: 'default_tax_rates' });
    await stripe.subscriptions.update(subscription.id, { default_tax_rates: '' });
    const preview = await stripe.invoices.createPreview({ customer: customer.id });
    expect(preview.total_taxes).toEqual([]);
    expect(preview.total).toBe(5997);
  });

  it('takes an inclusive manual rate out of the line', async () => {
    const vat = await stripe.taxRates.create({ display_name: 'VAT', percentage: 20, inclusive: true });
    const customer = await customerAt(null);
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: (await monthlyPrice(1000)).id }],
      default_tax_rates: [vat.id],
      expand: ['latest_invoice'],
    });
    const invoice = subscription.latest_invoice as Stripe.Invoice;
    // $10.00 includes 20 %: net 833.33 → $8.33, tax $1.67; the total stays $10.00.
    expect(onlyTax(invoice)).toMatchObject({ amount: 167, taxable_amount: 833, tax_behavior: 'inclusive' });
    expect(invoice.total).toBe(1000);
    expect(invoice.total_excluding_tax).toBe(833);
  });

  it('shows where Stripe Tax places a customer (expand[]=tax), the shipping address first', async () => {
    const shipsToFrance = await stripe.customers.create({
      address: { country: 'US', postal_code: '94103', state: 'CA' },
      shipping: { name: 'Jenny', address: { country: 'FR', postal_code: '75001' } },
      expand: ['tax'],
    });
    expect(shipsToFrance.tax).toEqual({
      automatic_tax: 'supported',
      ip_address: null,
      location: { country: 'FR', source: 'shipping_destination', state: null },
      provider: 'stripe',
    });
    const nowhere = await stripe.customers.create({ expand: ['tax'] });
    expect(nowhere.tax).toMatchObject({ automatic_tax: 'unrecognized_location', location: null });
    const plain = await stripe.customers.retrieve(nowhere.id);
    expect(plain).not.toHaveProperty('tax');
    // The invoice is taxed where the customer ships to: 20 % of 3 × $10.00.
    const invoice = await subscribeWithTax(shipsToFrance, await monthlyPrice(1000));
    expect(onlyTax(invoice).amount).toBe(600);
  });

  it('charges a standalone invoice’s default_tax_rates on its invoice items', async () => {
    const rate = await stripe.taxRates.create({ display_name: 'GST', percentage: 10, inclusive: false });
    const customer = await customerAt(null);
    await stripe.invoiceItems.create({ customer: customer.id, amount: 1234, currency: 'usd' });
    const draft = await stripe.invoices.create({
      customer: customer.id,
      pending_invoice_items_behavior: 'include',
      default_tax_rates: [rate.id],
    });
    // 10 % of $12.34 = 1.234 → $1.23.
    expect(draft.total_taxes?.[0]).toMatchObject({ amount: 123, taxable_amount: 1234 });
    expect(draft.total).toBe(1357);
    const paid = await stripe.invoices.pay(draft.id);
    expect(paid.amount_paid).toBe(1357);
    await expect(
      stripe.invoices.create({
        customer: customer.id,
        default_tax_rates: [rate.id],
        automatic_tax: { enabled: true },
      }),
    ).rejects.toMatchObject({ statusCode: 400, param: 'default_tax_rates' });
  });
});
