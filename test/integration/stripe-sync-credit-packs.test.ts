import Stripe from 'stripe';
import { type RunningEmulator, startEmulator } from 'stripe-emulator';
import { syncCatalog } from '../../src/catalog/catalog-sync';
import { loadPlanCatalog, PlanCatalog } from '../../src/services/plans/plan-catalog';

/**
 * Credit packs in `npm run stripe:sync` (issue 17): a product per pack and a ONE-TIME price (no `recurring`) with
 * an amount per currency, found again by lookup key; a second run changes nothing; a changed amount makes a new
 * price, moves the lookup key and archives the old one, as plan prices do. Real stripe SDK against the emulator.
 */

const PACK_LOOKUP_KEYS = ['price_credits_10k', 'price_credits_50k', 'price_credits_200k'];

async function packPrices(stripe: Stripe): Promise<Map<string, Stripe.Price>> {
  const listed = await stripe.prices.list({
    lookup_keys: PACK_LOOKUP_KEYS,
    limit: 100,
    expand: ['data.currency_options'],
  });
  return new Map(listed.data.map((price) => [price.lookup_key as string, price]));
}

/** The real catalog with one pack's amounts changed. */
function withPackAmounts(catalog: PlanCatalog, key: string, amounts: Record<string, number>): PlanCatalog {
  return new PlanCatalog({
    ...catalog.catalog,
    creditPacks: catalog.catalog.creditPacks.map((pack) => (pack.key === key ? { ...pack, amounts } : pack)),
  });
}

describe('credit packs in stripe:sync', () => {
  const catalog = loadPlanCatalog();
  let emulator: RunningEmulator;
  let stripe: Stripe;

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    stripe = new Stripe('sk_test_credit_pack_sync', {
      host: '127.0.0.1',
      port: emulator.port,
      protocol: 'http',
      maxNetworkRetries: 0,
    });
    await syncCatalog(stripe, catalog);
  });
  afterAll(() => emulator.close());

  it('creates a product per pack and a one-time price in every currency, marked coditect_credit_pack', async () => {
    const prices = await packPrices(stripe);
    const shown = PACK_LOOKUP_KEYS.map((lookupKey) => {
      const price = prices.get(lookupKey);
      return {
        lookupKey,
        type: price?.type,
        recurring: price?.recurring,
        usd: price?.currency === 'usd' ? price.unit_amount : null,
        eur: price?.currency_options?.eur?.unit_amount,
        pack: price?.metadata.coditect_credit_pack,
        product: price?.product,
        active: price?.active,
        taxBehavior: price?.tax_behavior,
      };
    });
    const common = { type: 'one_time', recurring: null, active: true, taxBehavior: 'exclusive' };
    expect(shown).toEqual([
      {
        ...common,
        lookupKey: 'price_credits_10k',
        usd: 1000,
        eur: 900,
        pack: 'credits_10k',
        product: 'prod_coditect_credits_10k',
      },
      {
        ...common,
        lookupKey: 'price_credits_50k',
        usd: 4500,
        eur: 4200,
        pack: 'credits_50k',
        product: 'prod_coditect_credits_50k',
      },
      {
        ...common,
        lookupKey: 'price_credits_200k',
        usd: 16000,
        eur: 15000,
        pack: 'credits_200k',
        product: 'prod_coditect_credits_200k',
      },
    ]);
    const product = await stripe.products.retrieve('prod_coditect_credits_50k');
    expect(product).toMatchObject({
      name: 'CODITECT 50,000 credits',
      active: true,
      metadata: { coditect_credit_pack: 'credits_50k' },
    });
  });

  it('changes nothing when run a second time', async () => {
    const before = [emulator.store.all('product').length, emulator.store.all('price').length];
    const report = await syncCatalog(stripe, catalog);
    expect(report.isNoop).toBe(true);
    expect(report.lines.filter((line) => line.what.startsWith('price_credits_'))).toHaveLength(3);
    expect([emulator.store.all('product').length, emulator.store.all('price').length]).toEqual(before);
  });

  it('moves a changed amount to a new one-time price and archives the old one', async () => {
    const old = (await packPrices(stripe)).get('price_credits_10k') as Stripe.Price;
    const changed = withPackAmounts(catalog, 'credits_10k', { usd: 1100, eur: 900 });

    const report = await syncCatalog(stripe, changed);
    expect(report.lines.filter((line) => line.action !== 'unchanged')).toEqual([
      expect.objectContaining({
        action: 'created',
        kind: 'price',
        what: 'price_credits_10k 1100 usd, 900 eur once',
      }),
      expect.objectContaining({ action: 'archived', kind: 'price', id: old.id }),
    ]);
    const now = (await packPrices(stripe)).get('price_credits_10k') as Stripe.Price;
    expect(now.id).not.toBe(old.id);
    expect(now).toMatchObject({ type: 'one_time', recurring: null, unit_amount: 1100, active: true });
    expect(now.currency_options?.eur?.unit_amount).toBe(900);
    // The old price is never edited: a receipt that names it still says what was paid.
    expect(await stripe.prices.retrieve(old.id)).toMatchObject({
      unit_amount: 1000,
      active: false,
      lookup_key: null,
    });

    expect((await syncCatalog(stripe, changed)).isNoop).toBe(true);
  });
});
