/** Products and prices: lookup keys, tiers, metered prices, list filters, search. */
import Stripe from 'stripe';
import { useEmulatorPerFile } from './core-helpers';

let stripe: Stripe;
useEmulatorPerFile((started) => {
  stripe = started.stripe;
});

test('products: CRUD, active filter, search, delete only without prices', async () => {
  const p = await stripe.products.create({ name: 'Pro', description: 'd', metadata: { tier: 'pro' } });
  expect(p).toMatchObject({
    object: 'product',
    active: true,
    name: 'Pro',
    type: 'service',
    default_price: null,
  });
  const custom = await stripe.products.create({ id: 'prod_custom', name: 'Custom' });
  expect(custom.id).toBe('prod_custom');
  await stripe.products.update(custom.id, { active: false });
  expect((await stripe.products.list({ active: true })).data.map((x) => x.id)).toEqual([p.id]);
  expect((await stripe.products.search({ query: "metadata['tier']:'pro'" })).data.map((x) => x.id)).toEqual([
    p.id,
  ]);
  await stripe.prices.create({ product: p.id, currency: 'usd', unit_amount: 100 });
  await expect(stripe.products.del(p.id)).rejects.toMatchObject({ statusCode: 400 });
  expect(await stripe.products.del(custom.id)).toMatchObject({ id: custom.id, deleted: true });
  await expect(stripe.products.retrieve(custom.id)).rejects.toMatchObject({ statusCode: 404 });
});

test('default_price_data creates and links a price', async () => {
  const p = await stripe.products.create({
    name: 'With price',
    default_price_data: { currency: 'usd', unit_amount: 2500, recurring: { interval: 'month' } },
    expand: ['default_price'],
  });
  const price = p.default_price as Stripe.Price;
  expect(price.object).toBe('price');
  expect(price.unit_amount).toBe(2500);
  expect(price.product).toBe(p.id);
});

test('prices: shape, lookup keys, transfer_lookup_key, lookup_keys[] filter', async () => {
  const prod = await stripe.products.create({ name: 'P' });
  const a = await stripe.prices.create({
    product: prod.id,
    currency: 'USD',
    unit_amount: 1500,
    recurring: { interval: 'month' },
    lookup_key: 'pro_monthly',
  });
  expect(a).toMatchObject({
    object: 'price',
    active: true,
    billing_scheme: 'per_unit',
    currency: 'usd',
    type: 'recurring',
    unit_amount: 1500,
    lookup_key: 'pro_monthly',
    tax_behavior: 'unspecified',
    tiers_mode: null,
    recurring: {
      interval: 'month',
      interval_count: 1,
      usage_type: 'licensed',
      meter: null,
      trial_period_days: null,
    },
  });
  expect(String(a.unit_amount_decimal)).toBe('1500');
  const dup = (await stripe.prices
    .create({ product: prod.id, currency: 'usd', unit_amount: 1, lookup_key: 'pro_monthly' })
    .catch((e: unknown) => e)) as Stripe.errors.StripeError;
  expect(dup.statusCode).toBe(400);
  expect(dup.param).toBe('lookup_key');
  const b = await stripe.prices.create({
    product: prod.id,
    currency: 'usd',
    unit_amount: 1800,
    recurring: { interval: 'month' },
    lookup_key: 'pro_monthly',
    transfer_lookup_key: true,
  });
  expect((await stripe.prices.retrieve(a.id)).lookup_key).toBeNull();
  const byKey = await stripe.prices.list({ lookup_keys: ['pro_monthly', 'nothing'] });
  expect(byKey.data.map((x) => x.id)).toEqual([b.id]);
  const one = await stripe.prices.create({ product: prod.id, currency: 'usd', unit_amount: 999 });
  expect(one.type).toBe('one_time');
  expect((await stripe.prices.list({ type: 'one_time' })).data.map((x) => x.id)).toEqual([one.id]);
  expect((await stripe.prices.list({ product: prod.id })).data).toHaveLength(3);
  await stripe.prices.update(one.id, { active: false, metadata: { old: 'yes' } });
  expect((await stripe.prices.list({ active: true })).data.map((x) => x.id).sort()).toEqual(
    [a.id, b.id].sort(),
  );
  const found = await stripe.prices.search({ query: "metadata['old']:'yes'" });
  expect(found.data.map((x) => x.id)).toEqual([one.id]);
  const upd = await stripe.prices.update(a.id, { lookup_key: 'legacy' });
  expect(upd.lookup_key).toBe('legacy');
  expect((await stripe.events.list({ type: 'price.updated' })).data.length).toBeGreaterThanOrEqual(2);
});

test('product_data creates the product inline', async () => {
  const price = await stripe.prices.create({
    currency: 'usd',
    unit_amount: 700,
    product_data: { name: 'Inline' },
  });
  const prod = await stripe.products.retrieve(price.product as string);
  expect(prod.name).toBe('Inline');
});

test('tiered prices validate tiers; metered prices need an active meter', async () => {
  const prod = await stripe.products.create({ name: 'P' });
  const noInf = (await stripe.prices
    .create({
      product: prod.id,
      currency: 'usd',
      billing_scheme: 'tiered',
      tiers_mode: 'graduated',
      tiers: [{ up_to: 10, unit_amount: 5 }],
    })
    .catch((e: unknown) => e)) as Stripe.errors.StripeError;
  expect(noInf.statusCode).toBe(400);
  const noMeter = (await stripe.prices
    .create({
      product: prod.id,
      currency: 'usd',
      unit_amount: 1,
      recurring: { interval: 'month', usage_type: 'metered' },
    })
    .catch((e: unknown) => e)) as Stripe.errors.StripeError;
  expect(noMeter.statusCode).toBe(400);
  expect(noMeter.param).toBe('recurring[meter]');
  const meter = await stripe.billing.meters.create({
    display_name: 'Calls',
    event_name: 'calls',
    default_aggregation: { formula: 'sum' },
  });
  const metered = await stripe.prices.create({
    product: prod.id,
    currency: 'usd',
    billing_scheme: 'tiered',
    tiers_mode: 'graduated',
    tiers: [
      { up_to: 1000, unit_amount_decimal: Stripe.Decimal.from('0.5') },
      { up_to: 'inf', unit_amount: 0, flat_amount: 1000 },
    ],
    recurring: { interval: 'month', usage_type: 'metered', meter: meter.id },
    expand: ['tiers'],
  });
  expect(metered.recurring?.meter).toBe(meter.id);
  expect(metered.tiers?.[0].unit_amount).toBeNull();
  expect(String(metered.tiers?.[0].unit_amount_decimal)).toBe('0.5');
  const byMeter = await stripe.prices.list({ recurring: { meter: meter.id } } as Stripe.PriceListParams);
  expect(byMeter.data.map((x) => x.id)).toEqual([metered.id]);
});
