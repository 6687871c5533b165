import Stripe from 'stripe';
import { type RunningEmulator, startEmulator } from 'stripe-emulator';
import { type DesiredPrice, syncPrice } from '../../src/catalog/catalog-prices';
import { SyncReport } from '../../src/catalog/catalog-report';
import { syncCatalog } from '../../src/catalog/catalog-sync';
import { loadPlanCatalog } from '../../src/services/plans/plan-catalog';

/**
 * Prices quote net amounts (ADR 0024): synced with `tax_behavior: exclusive`. Stripe lets a price's tax behaviour
 * be set once and never changed (https://docs.stripe.com/api/prices/update#update_price-tax_behavior): a price made
 * before (`unspecified`) is set in place; an inclusive one cannot be, so a new price takes its lookup key.
 */
describe('price sync and tax behaviour', () => {
  let emulator: RunningEmulator;
  let stripe: Stripe;

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    stripe = new Stripe('sk_test_catalog_price_tax', {
      host: '127.0.0.1',
      port: emulator.port,
      protocol: 'http',
      maxNetworkRetries: 0,
    });
  });

  afterAll(() => emulator.close());

  it('creates every catalog price exclusive of tax, and a second run changes nothing', async () => {
    const catalog = loadPlanCatalog();
    await syncCatalog(stripe, catalog);
    const prices = await stripe.prices.list({ limit: 100 });
    expect(prices.data.length).toBeGreaterThan(0);
    expect(new Set(prices.data.map((price) => price.tax_behavior))).toEqual(new Set(['exclusive']));
    const again = await syncCatalog(stripe, catalog);
    expect(again.isNoop).toBe(true);
  });

  it('sets an unspecified price to exclusive in place once, then leaves it', async () => {
    const product = await stripe.products.create({ name: 'Tax behaviour' });
    const before = await stripe.prices.create({
      product: product.id,
      currency: 'usd',
      unit_amount: 1900,
      recurring: { interval: 'month' },
      lookup_key: 'price_tax_unspecified',
    });
    expect(before.tax_behavior).toBe('unspecified');
    const desired = desiredFor(product.id, 'price_tax_unspecified');

    const first = new SyncReport();
    expect(await syncPrice(stripe, before, desired, first)).toBe(before.id);
    expect(first.counts).toEqual({ created: 0, updated: 1, archived: 0, unchanged: 0 });
    const after = await stripe.prices.retrieve(before.id);
    expect(after).toMatchObject({ tax_behavior: 'exclusive', unit_amount: 1900, active: true });

    const second = new SyncReport();
    expect(await syncPrice(stripe, after, desired, second)).toBe(before.id);
    expect(second.counts).toEqual({ created: 0, updated: 0, archived: 0, unchanged: 1 });
  });

  it('replaces an inclusive price, which Stripe cannot turn exclusive', async () => {
    const product = await stripe.products.create({ name: 'Inclusive' });
    const inclusive = await stripe.prices.create({
      product: product.id,
      currency: 'usd',
      unit_amount: 1900,
      recurring: { interval: 'month' },
      lookup_key: 'price_tax_inclusive',
      tax_behavior: 'inclusive',
    });
    const report = new SyncReport();
    const id = await syncPrice(stripe, inclusive, desiredFor(product.id, 'price_tax_inclusive'), report);
    expect(id).not.toBe(inclusive.id);
    expect(await stripe.prices.retrieve(id)).toMatchObject({
      tax_behavior: 'exclusive',
      lookup_key: 'price_tax_inclusive',
      unit_amount: 1900,
    });
    expect(await stripe.prices.retrieve(inclusive.id)).toMatchObject({
      active: false,
      tax_behavior: 'inclusive',
    });
  });
});

function desiredFor(productId: string, lookupKey: string): DesiredPrice {
  return {
    lookupKey,
    productId,
    currencies: ['usd'],
    interval: 'month',
    amount: { kind: 'licensed', cents: { usd: 1900 } },
    nickname: lookupKey,
    metadata: {},
  };
}
