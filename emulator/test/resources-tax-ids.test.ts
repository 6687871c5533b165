/** Customer tax IDs through the SDK: CRUD, the emulator's verification rule, events and `customer.tax_ids`. */
import type Stripe from 'stripe';
import { useEmulatorPerFile } from './core-helpers';

let stripe: Stripe;

useEmulatorPerFile((started) => {
  stripe = started.stripe;
});

async function eventsFor(taxIdId: string): Promise<Stripe.Event[]> {
  const events = await stripe.events.list({ limit: 100 });
  return events.data.filter((e) => (e.data.object as { id?: string }).id === taxIdId).reverse();
}

describe('customer tax IDs', () => {
  it('creates a verified eu_vat ID: created pending, then customer.tax_id.updated with the result', async () => {
    const customer = await stripe.customers.create({ name: 'Acme GmbH' });
    const taxId = await stripe.customers.createTaxId(customer.id, { type: 'eu_vat', value: 'DE123456789' });
    expect(taxId).toMatchObject({
      object: 'tax_id',
      country: 'DE',
      customer: customer.id,
      type: 'eu_vat',
      value: 'DE123456789',
      verification: { status: 'verified' },
      owner: { type: 'customer', customer: customer.id },
    });
    const events = await eventsFor(taxId.id);
    expect(events.map((e) => e.type)).toEqual(['customer.tax_id.created', 'customer.tax_id.updated']);
    expect((events[0].data.object as Stripe.TaxId).verification?.status).toBe('pending');
    expect(events[1].data.previous_attributes).toEqual({ verification: { status: 'pending' } });
  });

  it('gives unverified, unavailable and pending for the emulator’s test values, and no verification to us_ein', async () => {
    const customer = await stripe.customers.create({});
    const status = async (type: Stripe.CustomerCreateTaxIdParams.Type, value: string) =>
      (await stripe.customers.createTaxId(customer.id, { type, value })).verification?.status ?? null;
    expect(await status('eu_vat', 'DE111111111')).toBe('unverified');
    expect(await status('gb_vat', 'GB222222222')).toBe('unavailable');
    expect(await status('eu_vat', 'FR12333333333')).toBe('pending');
    expect(await status('us_ein', '12-3456789')).toBeNull();
  });

  it('refuses a value that does not match the type with tax_id_invalid, writing nothing', async () => {
    const customer = await stripe.customers.create({});
    await expect(
      stripe.customers.createTaxId(customer.id, { type: 'eu_vat', value: 'not-a-vat' }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'tax_id_invalid', param: 'value' });
    await expect(
      stripe.customers.create({ tax_id_data: [{ type: 'gb_vat', value: 'GB12' }] }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'tax_id_invalid', param: 'tax_id_data[0][value]' });
    expect((await stripe.customers.listTaxIds(customer.id)).data).toEqual([]);
  });

  it('lists (newest first), retrieves, expands on the customer and deletes', async () => {
    const customer = await stripe.customers.create({
      tax_id_data: [
        { type: 'eu_vat', value: 'DE123456789' },
        { type: 'us_ein', value: '12-3456789' },
      ],
    });
    const list = await stripe.customers.listTaxIds(customer.id);
    expect(list.data.map((t) => t.type)).toEqual(['us_ein', 'eu_vat']);
    const expanded = await stripe.customers.retrieve(customer.id, { expand: ['tax_ids'] });
    expect((expanded as Stripe.Customer).tax_ids?.data.map((t) => t.value)).toEqual([
      'DE123456789',
      '12-3456789',
    ]);
    const first = list.data[1];
    expect(await stripe.customers.retrieveTaxId(customer.id, first.id)).toMatchObject({ id: first.id });
    expect(await stripe.customers.deleteTaxId(customer.id, first.id)).toEqual({
      id: first.id,
      object: 'tax_id',
      deleted: true,
    });
    await expect(stripe.customers.retrieveTaxId(customer.id, first.id)).rejects.toMatchObject({
      statusCode: 404,
    });
    expect((await eventsFor(first.id)).map((e) => e.type)).toContain('customer.tax_id.deleted');
  });

  it('does not show one customer’s tax ID under another', async () => {
    const owner = await stripe.customers.create({ tax_id_data: [{ type: 'eu_vat', value: 'DE123456789' }] });
    const other = await stripe.customers.create({});
    const [taxId] = (await stripe.customers.listTaxIds(owner.id)).data;
    await expect(stripe.customers.retrieveTaxId(other.id, taxId.id)).rejects.toMatchObject({
      statusCode: 404,
    });
  });
});

describe('customer tax location', () => {
  it('validates the location at once with tax[validate_location]=immediately, writing nothing when refused', async () => {
    await expect(
      stripe.customers.create({
        email: 'nowhere@example.com',
        address: { country: 'US', state: 'CA' },
        tax: { validate_location: 'immediately' },
      }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'customer_tax_location_invalid', param: 'address' });
    expect((await stripe.customers.list({ email: 'nowhere@example.com' })).data).toEqual([]);

    const customer = await stripe.customers.create({
      address: { country: 'US', postal_code: '94103' },
      tax: { validate_location: 'immediately' },
    });
    await expect(
      stripe.customers.update(customer.id, {
        address: { country: '', postal_code: '' },
        tax: { validate_location: 'immediately' },
      }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'customer_tax_location_invalid' });
    const kept = (await stripe.customers.retrieve(customer.id)) as Stripe.Customer;
    expect(kept.address?.postal_code).toBe('94103');
    // Deferred (the default): an unusable address is accepted.
    const later = await stripe.customers.update(customer.id, { address: { country: 'US', postal_code: '' } });
    expect(later.address?.postal_code).toBe('');
  });
});
