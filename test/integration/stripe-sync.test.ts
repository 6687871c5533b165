import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Stripe from 'stripe';
import { type RunningEmulator, startEmulator } from 'stripe-emulator';
import { ConfigError, readStripeSettings } from '../../src/config';
import { loadPlanCatalog, type PlanCatalog } from '../../src/services/plans/plan-catalog';
import { CouponConflictError } from '../../src/catalog/catalog-coupons';
import { MeterConflictError } from '../../src/catalog/catalog-meters';
import { PORTAL_METADATA_KEY, PORTAL_METADATA_VALUE } from '../../src/catalog/catalog-portal';
import { type SyncReport, syncCatalog } from '../../src/catalog/catalog-sync';
import { type ChildResult, outputOf } from '../support/child-output';

const ROOT = resolve(__dirname, '../..');
const STRIPE_KEY = 'sk_test_catalog_sync_tests';
/** Collections the sync may write, and events (a run that changes nothing emits none). */
const COLLECTIONS = [
  'product',
  'price',
  'billing.meter',
  'billing_portal.configuration',
  'coupon',
  'promotion_code',
  'event',
] as const;
const LOOKUP_KEYS = [
  'price_starter_monthly',
  'price_starter_yearly',
  'price_professional_monthly',
  'price_professional_yearly',
  'price_starter_seat_monthly',
  'price_starter_seat_yearly',
  'price_professional_seat_monthly',
  'price_professional_seat_yearly',
  'price_ai_requests_overage',
  'price_ai_requests_overage_yearly',
  'price_storage_mb_overage',
  'price_storage_mb_overage_yearly',
];

interface SyncTarget {
  emulator: RunningEmulator;
  stripe: Stripe;
  /** The idempotency key of every POST the SDK sent, in order. */
  postKeys: Array<string | undefined>;
}

async function startTarget(): Promise<SyncTarget> {
  const emulator = await startEmulator({ port: 0 });
  const stripe = new Stripe(STRIPE_KEY, {
    host: '127.0.0.1',
    port: emulator.port,
    protocol: 'http',
    // No retries: a failure injected by a test must reach the sync.
    maxNetworkRetries: 0,
  });
  const postKeys: Array<string | undefined> = [];
  stripe.on('request', (event: Stripe.RequestEvent) => {
    if (event.method === 'POST') postKeys.push(event.idempotency_key);
  });
  return { emulator, stripe, postKeys };
}

function counts(emulator: RunningEmulator): Record<string, number> {
  return Object.fromEntries(COLLECTIONS.map((type) => [type, emulator.store.all(type).length]));
}

async function pricesByLookupKey(stripe: Stripe): Promise<Map<string, Stripe.Price>> {
  // Stripe takes at most 10 lookup keys per list call.
  const found = new Map<string, Stripe.Price>();
  for (let start = 0; start < LOOKUP_KEYS.length; start += 10) {
    const prices = await stripe.prices.list({
      lookup_keys: LOOKUP_KEYS.slice(start, start + 10),
      limit: 100,
      expand: ['data.currency_options'],
    });
    for (const price of prices.data) found.set(price.lookup_key as string, price);
  }
  return found;
}

async function productsByMetadata(stripe: Stripe, key: string): Promise<Map<string, Stripe.Product>> {
  const products = await stripe.products.list({ limit: 100 });
  return new Map(
    products.data.flatMap((product) =>
      product.metadata[key] ? [[product.metadata[key], product] as const] : [],
    ),
  );
}

async function ourPortalConfiguration(stripe: Stripe): Promise<Stripe.BillingPortal.Configuration> {
  const list = await stripe.billingPortal.configurations.list({
    limit: 100,
    expand: ['data.features.subscription_update.products'],
  });
  const ours = list.data.filter(
    (configuration) => configuration.metadata?.[PORTAL_METADATA_KEY] === PORTAL_METADATA_VALUE,
  );
  expect(ours).toHaveLength(1);
  return ours[0] as Stripe.BillingPortal.Configuration;
}

describe('npm run stripe:sync against the emulator', () => {
  const catalog = loadPlanCatalog();
  const directory = mkdtempSync(join(tmpdir(), 'stripe-sync-'));
  let target: SyncTarget;

  beforeAll(async () => {
    target = await startTarget();
  });

  afterAll(async () => {
    await target.emulator.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('creates products, prices, meters, metered prices and the portal configuration on an empty account', async () => {
    const report = await syncCatalog(target.stripe, catalog);
    // 3 plan products + 2 seats products + 3 metered products (2 metrics and AI credits beyond the balance) + 2 add-on
    // products + 3 credit-pack products, 4 plan prices + 4 seat prices + 6 metered prices + 4 add-on prices (monthly
    // and yearly) + 3 one-time pack prices, 3 meters, 1 portal configuration, 1 coupon and its promotion code.
    expect(report.counts).toEqual({ created: 40, updated: 0, archived: 0, unchanged: 0 });
    expect(report.format()).toMatch(/40 created, 0 updated, 0 archived, 0 unchanged$/);

    const { stripe } = target;
    const plans = await productsByMetadata(stripe, 'coditect_plan');
    expect([...plans.keys()].sort()).toEqual(['enterprise', 'professional', 'starter']);
    expect(plans.get('starter')).toMatchObject({
      id: 'prod_coditect_starter',
      name: 'CODITECT Starter',
      active: true,
      description: catalog.plan('starter').description,
    });

    const prices = await pricesByLookupKey(stripe);
    const licensed = (lookupKey: string) => {
      const price = prices.get(lookupKey);
      return {
        amount: price?.unit_amount,
        currency: price?.currency,
        // The other currency of plans.yaml rides on the same price (`currency_options`).
        eur: price?.currency_options?.eur?.unit_amount,
        interval: price?.recurring?.interval,
        usage: price?.recurring?.usage_type,
        product: price?.product,
        active: price?.active,
        plan: price?.metadata.coditect_plan,
      };
    };
    const common = { currency: 'usd', usage: 'licensed', active: true };
    expect(licensed('price_starter_monthly')).toEqual({
      ...common,
      amount: 1900,
      eur: 1800,
      interval: 'month',
      product: 'prod_coditect_starter',
      plan: 'starter',
    });
    expect(licensed('price_starter_yearly')).toEqual({
      ...common,
      amount: 19000,
      eur: 18000,
      interval: 'year',
      product: 'prod_coditect_starter',
      plan: 'starter',
    });
    expect(licensed('price_professional_monthly')).toEqual({
      ...common,
      amount: 4900,
      eur: 4500,
      interval: 'month',
      product: 'prod_coditect_professional',
      plan: 'professional',
    });
    expect(licensed('price_professional_yearly')).toEqual({
      ...common,
      amount: 49000,
      eur: 45000,
      interval: 'year',
      product: 'prod_coditect_professional',
      plan: 'professional',
    });
    const enterprisePrices = await stripe.prices.list({ product: 'prod_coditect_enterprise' });
    expect(enterprisePrices.data).toEqual([]);

    const meters = (await stripe.billing.meters.list({ limit: 100 })).data;
    const meter = (eventName: string) => meters.find((candidate) => candidate.event_name === eventName);
    expect(meters).toHaveLength(3);
    for (const [eventName, formula] of [
      ['coditect_ai_requests', 'sum'],
      ['coditect_storage_mb_overage', 'sum'],
      ['coditect_ai_credits_overage', 'sum'],
    ] as const) {
      expect(meter(eventName)).toMatchObject({
        status: 'active',
        default_aggregation: { formula },
        customer_mapping: { type: 'by_id', event_payload_key: 'stripe_customer_id' },
        value_settings: { event_payload_key: 'value' },
      });
    }

    const metricProducts = await productsByMetadata(stripe, 'coditect_metric');
    for (const [lookupKey, interval, metric, eventName, cents] of [
      ['price_ai_requests_overage', 'month', 'ai_requests', 'coditect_ai_requests', '1'],
      ['price_ai_requests_overage_yearly', 'year', 'ai_requests', 'coditect_ai_requests', '1'],
      ['price_storage_mb_overage', 'month', 'storage_mb', 'coditect_storage_mb_overage', '5'],
      ['price_storage_mb_overage_yearly', 'year', 'storage_mb', 'coditect_storage_mb_overage', '5'],
    ] as const) {
      const price = prices.get(lookupKey);
      expect(price?.recurring).toMatchObject({
        interval,
        usage_type: 'metered',
        meter: meter(eventName)?.id,
      });
      expect(String(price?.unit_amount_decimal)).toBe(cents);
      expect(String(price?.currency_options?.eur?.unit_amount_decimal)).toBe(cents);
      expect(price?.product).toBe(metricProducts.get(metric)?.id);
      expect(price?.active).toBe(true);
    }
    expect(metricProducts.get('storage_mb')?.unit_label).toBe('MB');

    const portal = await ourPortalConfiguration(stripe);
    expect(portal.active).toBe(true);
    expect(portal.features.payment_method_update.enabled).toBe(true);
    expect(portal.features.invoice_history.enabled).toBe(true);
    expect(portal.features.subscription_cancel).toMatchObject({ enabled: true, mode: 'at_period_end' });
    expect(portal.features.subscription_update).toMatchObject({
      enabled: true,
      default_allowed_updates: ['price'],
      proration_behavior: 'create_prorations',
    });
    const portalProducts = (portal.features.subscription_update.products ?? []).map((entry) => ({
      product: entry.product,
      prices: [...entry.prices].sort(),
    }));
    const idsOf = (...keys: string[]) => keys.map((key) => prices.get(key)?.id as string).sort();
    expect(portalProducts).toEqual([
      { product: 'prod_coditect_starter', prices: idsOf('price_starter_monthly', 'price_starter_yearly') },
      {
        product: 'prod_coditect_professional',
        prices: idsOf('price_professional_monthly', 'price_professional_yearly'),
      },
    ]);

    // Every write carried an idempotency key derived from its intent, each intent once.
    expect(target.postKeys).toHaveLength(40);
    for (const key of target.postKeys) expect(key).toMatch(/^sync:[a-z-]+:/);
    expect(new Set(target.postKeys).size).toBe(target.postKeys.length);
    expect(target.postKeys).toContainEqual(
      expect.stringMatching(/^sync:price:price_starter_monthly:1900usd-1800eur:replaces:none:/),
    );
  });

  it('creates the coupon under our id, limited to its plans, and its promotion code', async () => {
    const { stripe } = target;
    const coupon = await stripe.coupons.retrieve('launch20', { expand: ['applies_to'] });
    expect(coupon).toMatchObject({
      id: 'launch20',
      percent_off: 20,
      duration: 'repeating',
      duration_in_months: 3,
      max_redemptions: null,
      redeem_by: null,
      metadata: { coditect_coupon: 'launch20' },
    });
    expect([...(coupon.applies_to?.products ?? [])].sort()).toEqual([
      'prod_coditect_professional',
      'prod_coditect_starter',
    ]);
    const codes = await stripe.promotionCodes.list({ code: 'LAUNCH20' });
    expect(codes.data).toHaveLength(1);
    expect(codes.data[0]).toMatchObject({
      code: 'LAUNCH20',
      active: true,
      expires_at: null,
      max_redemptions: null,
      restrictions: { first_time_transaction: false, minimum_amount: null },
    });
    expect(codes.data[0]?.promotion.coupon).toBe('launch20');
  });

  it('creates each per-seat plan’s seat prices on a seats product of its own, marked coditect_seats_for', async () => {
    const { stripe } = target;
    const seatsProducts = await productsByMetadata(stripe, 'coditect_seats_for');
    expect([...seatsProducts.keys()].sort()).toEqual(['professional', 'starter']);
    expect(seatsProducts.get('professional')).toMatchObject({
      id: 'prod_coditect_professional_seats',
      name: 'CODITECT Professional seats',
      unit_label: 'seat',
      active: true,
    });
    const prices = await pricesByLookupKey(stripe);
    for (const [lookupKey, plan, interval, amount] of [
      ['price_starter_seat_monthly', 'starter', 'month', 800],
      ['price_starter_seat_yearly', 'starter', 'year', 8000],
      ['price_professional_seat_monthly', 'professional', 'month', 1200],
      ['price_professional_seat_yearly', 'professional', 'year', 12000],
    ] as const) {
      const price = prices.get(lookupKey);
      expect({
        amount: price?.unit_amount,
        currency: price?.currency,
        interval: price?.recurring?.interval,
        usage: price?.recurring?.usage_type,
        product: price?.product,
        metadata: price?.metadata,
      }).toEqual({
        amount,
        currency: 'usd',
        interval,
        usage: 'licensed',
        product: `prod_coditect_${plan}_seats`,
        // The role of the item (ADR 0024): seats, never a plan.
        metadata: { coditect_seats_for: plan },
      });
    }
    // The portal's plan switcher lists the plans' prices only: a seat price is not a plan to switch to.
    const portal = await ourPortalConfiguration(stripe);
    const portalPrices = (portal.features.subscription_update.products ?? []).flatMap(
      (entry) => entry.prices,
    );
    expect(portalPrices).not.toContain(prices.get('price_starter_seat_monthly')?.id);
  });

  it('changes nothing when run a second time', async () => {
    const before = counts(target.emulator);
    const writesBefore = target.postKeys.length;
    const report = await syncCatalog(target.stripe, catalog);
    expect(report.counts).toEqual({ created: 0, updated: 0, archived: 0, unchanged: 40 });
    expect(report.isNoop).toBe(true);
    expect(counts(target.emulator)).toEqual(before);
    expect(target.postKeys.length).toBe(writesBefore);
  });

  it('moves a changed amount to a new price and archives the old one, without editing it', async () => {
    const { stripe } = target;
    const old = (await pricesByLookupKey(stripe)).get('price_starter_monthly') as Stripe.Price;
    const changed = withStarterMonthly(2900);

    const report = await syncCatalog(stripe, changed);
    expect(report.counts).toEqual({ created: 1, updated: 1, archived: 1, unchanged: 38 });
    expect(
      report.lines.filter((line) => line.action !== 'unchanged').map((line) => [line.action, line.kind]),
    ).toEqual([
      ['created', 'price'],
      ['archived', 'price'],
      ['updated', 'portal configuration'],
    ]);

    const current = (await pricesByLookupKey(stripe)).get('price_starter_monthly') as Stripe.Price;
    expect(current.id).not.toBe(old.id);
    expect(current).toMatchObject({
      unit_amount: 2900,
      currency: 'usd',
      active: true,
      product: 'prod_coditect_starter',
    });
    expect(current.recurring?.interval).toBe('month');

    const archived = await stripe.prices.retrieve(old.id);
    expect(archived).toMatchObject({ active: false, lookup_key: null, unit_amount: 1900, currency: 'usd' });
    expect(archived.recurring?.interval).toBe('month');
    expect(archived.metadata).toEqual(old.metadata);

    // The portal now offers the new price, not the archived one.
    const portal = await ourPortalConfiguration(stripe);
    const starter = portal.features.subscription_update.products?.find(
      (entry) => entry.product === 'prod_coditect_starter',
    );
    expect(starter?.prices).toContain(current.id);
    expect(starter?.prices).not.toContain(old.id);

    // And the new state is stable.
    const before = counts(target.emulator);
    expect((await syncCatalog(stripe, changed)).isNoop).toBe(true);
    expect(counts(target.emulator)).toEqual(before);
  });

  it('moves the lookup key to a new price when only the EUR amount changes; the USD amount stays', async () => {
    const { stripe } = target;
    const old = (await pricesByLookupKey(stripe)).get('price_starter_monthly') as Stripe.Price;
    const changed = withStarterMonthly(2900, 2700);

    const report = await syncCatalog(stripe, changed);
    expect(report.counts).toMatchObject({ created: 1, archived: 1 });
    const current = (await pricesByLookupKey(stripe)).get('price_starter_monthly') as Stripe.Price;
    expect(current.id).not.toBe(old.id);
    expect(current).toMatchObject({ unit_amount: 2900, currency: 'usd', active: true });
    expect(current.currency_options?.eur?.unit_amount).toBe(2700);
    expect(await stripe.prices.retrieve(old.id, { expand: ['currency_options'] })).toMatchObject({
      active: false,
      lookup_key: null,
      currency_options: { eur: { unit_amount: 1800 } },
    });

    const before = counts(target.emulator);
    expect((await syncCatalog(stripe, changed)).isNoop).toBe(true);
    expect(counts(target.emulator)).toEqual(before);
    // Back to the file's €18.00 for the tests after this one.
    expect((await syncCatalog(stripe, withStarterMonthly(2900))).counts).toMatchObject({
      created: 1,
      archived: 1,
    });
  });

  it('repairs what was changed by hand in Stripe', async () => {
    const { stripe } = target;
    await stripe.products.update('prod_coditect_professional', {
      name: 'Pro (renamed by hand)',
      active: false,
    });
    const yearly = (await pricesByLookupKey(stripe)).get('price_professional_yearly') as Stripe.Price;
    await stripe.prices.update(yearly.id, { active: false });
    const storage = (await stripe.billing.meters.list()).data.find(
      (meter) => meter.event_name === 'coditect_storage_mb_overage',
    );
    await stripe.billing.meters.update(storage?.id as string, { display_name: 'renamed by hand' });
    await stripe.billing.meters.deactivate(storage?.id as string);

    const report = await syncCatalog(stripe, withStarterMonthly(2900));
    expect(report.counts).toEqual({ created: 0, updated: 3, archived: 0, unchanged: 37 });
    // The meter keeps its id (and so its usage history): reactivated, not replaced.
    expect(await stripe.billing.meters.retrieve(storage?.id as string)).toMatchObject({
      status: 'active',
      display_name: 'CODITECT storage (overage)',
    });
    expect(await stripe.products.retrieve('prod_coditect_professional')).toMatchObject({
      name: 'CODITECT Professional',
      active: true,
    });
    // The same price again, offered again: its terms did not change, so no new price was needed.
    expect(await stripe.prices.retrieve(yearly.id)).toMatchObject({
      active: true,
      lookup_key: 'price_professional_yearly',
    });
  });

  it('makes a promotion code again when its fixed terms change, and switches it off when the file says so', async () => {
    const { stripe } = target;
    const [old] = (await stripe.promotionCodes.list({ code: 'LAUNCH20' })).data;
    const limited = variant((text) =>
      text.replace('    coupon: launch20\n', '    coupon: launch20\n    maxRedemptions: 100\n'),
    );
    // (The starter price of the file is back at 1900 here, which moves it back too: only the codes matter.)
    const codeActions = (report: SyncReport) =>
      report.lines.filter((line) => line.kind === 'promotion code').map((line) => line.action);
    const report = await syncCatalog(stripe, limited);
    expect(codeActions(report)).toEqual(['archived', 'created']);
    const codes = await stripe.promotionCodes.list({ code: 'LAUNCH20' });
    const active = codes.data.filter((code) => code.active);
    expect(active).toHaveLength(1);
    expect(active[0]).toMatchObject({ max_redemptions: 100 });
    expect(await stripe.promotionCodes.retrieve(old?.id as string)).toMatchObject({ active: false });
    expect((await syncCatalog(stripe, limited)).isNoop).toBe(true);

    const switchedOff = variant((text) =>
      text.replace(
        '    coupon: launch20\n',
        '    coupon: launch20\n    maxRedemptions: 100\n    active: false\n',
      ),
    );
    expect(codeActions(await syncCatalog(stripe, switchedOff))).toEqual(['updated']);
    expect((await stripe.promotionCodes.list({ code: 'LAUNCH20', active: true })).data).toEqual([]);
    expect((await syncCatalog(stripe, switchedOff)).isNoop).toBe(true);
    // Back on: the same code object is offered again, not a third one.
    expect(codeActions(await syncCatalog(stripe, limited))).toEqual(['updated']);
    expect((await stripe.promotionCodes.list({ code: 'LAUNCH20', active: true })).data[0]?.id).toBe(
      active[0]?.id,
    );
  });

  it('refuses to edit a coupon whose money terms changed, and renames one in place', async () => {
    const { stripe } = target;
    const renamed = variant((text) =>
      text.replace('name: Launch offer, 20 % off for 3 months', 'name: Launch 20'),
    );
    const report = await syncCatalog(stripe, renamed);
    expect(report.lines.filter((line) => line.kind === 'coupon')).toEqual([
      expect.objectContaining({ action: 'updated', id: 'launch20' }),
    ]);
    expect(await stripe.coupons.retrieve('launch20')).toMatchObject({ name: 'Launch 20', percent_off: 20 });

    const deeper = variant((text) => text.replace('percentOff: 20', 'percentOff: 25'));
    const failure = syncCatalog(stripe, deeper);
    await expect(failure).rejects.toBeInstanceOf(CouponConflictError);
    await expect(failure).rejects.toThrow(
      /Stripe coupon launch20 differs .*percent_off is 20 in Stripe, 25 in the file.*give the coupon a new id/,
    );
    expect(await stripe.coupons.retrieve('launch20')).toMatchObject({ percent_off: 20 });
  });

  /** The real catalog with `edit` applied, loaded from a copy of the file. */
  function variant(edit: (text: string) => string): PlanCatalog {
    const text = readFileSync('plans/plans.yaml', 'utf8');
    const changed = edit(text);
    expect(changed).not.toBe(text);
    const path = join(directory, `plans-variant-${Math.abs(hash(changed))}.yaml`);
    writeFileSync(path, changed);
    return loadPlanCatalog(path);
  }

  /** The real catalog with the starter monthly amount changed, loaded from a copy of the file. */
  function withStarterMonthly(cents: number, euroCents = 1800): PlanCatalog {
    const text = readFileSync('plans/plans.yaml', 'utf8');
    const changed = text.replace('usd: 1900, eur: 1800 }', `usd: ${cents}, eur: ${euroCents} }`);
    expect(changed).not.toBe(text);
    const path = join(directory, `plans-${cents}-${euroCents}.yaml`);
    writeFileSync(path, changed);
    const loaded = loadPlanCatalog(path);
    expect(loaded.priceFor('starter', 'month')?.amounts).toEqual({ usd: cents, eur: euroCents });
    return loaded;
  }
});

describe('stripe:sync refusals', () => {
  it('refuses to reuse a meter whose aggregation differs, since Stripe cannot change it', async () => {
    const target = await startTarget();
    try {
      const existing = await target.stripe.billing.meters.create({
        display_name: 'made by hand',
        event_name: 'coditect_ai_requests',
        default_aggregation: { formula: 'count' },
      });
      const failure = syncCatalog(target.stripe, loadPlanCatalog());
      await expect(failure).rejects.toBeInstanceOf(MeterConflictError);
      await expect(failure).rejects.toThrow(
        `Stripe meter ${existing.id} for event coditect_ai_requests aggregates with count, the file says sum`,
      );
      expect(target.emulator.store.all('billing.meter')).toHaveLength(1);
    } finally {
      await target.emulator.close();
    }
  });
});

describe('an interrupted stripe:sync', () => {
  it('resumes on the next run without creating anything twice', async () => {
    const target = await startTarget();
    try {
      const catalog = loadPlanCatalog();
      // Stripe fails when the sync reaches the meters; the plan products and prices are already made.
      await fetch(`${target.emulator.url}/_emulator/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ status: 500, count: 1, path: '/v1/billing/meters' }),
      });
      await expect(syncCatalog(target.stripe, catalog)).rejects.toBeInstanceOf(Stripe.errors.StripeAPIError);
      const partial = counts(target.emulator);
      expect(partial.product).toBeGreaterThan(0);
      expect(partial['billing.meter']).toBe(0);

      const report = await syncCatalog(target.stripe, catalog);
      expect(report.unchanged).toBe(partial.product + partial.price);
      expect(report.created).toBe(40 - report.unchanged);
      const after = counts(target.emulator);
      expect([
        after.product,
        after.price,
        after['billing.meter'],
        after['billing_portal.configuration'],
      ]).toEqual([
        13, // 3 plans, 2 seats, 2 metrics and AI credits beyond the balance, 2 add-ons, 3 credit packs
        21, // 4 plan prices, 4 seat prices, 6 metered prices, 4 add-on prices, 3 one-time pack prices
        3,
        2, // Stripe's default portal configuration is there too
      ]);
    } finally {
      await target.emulator.close();
    }
  });

  it('derives the same idempotency keys for the same work, never random ones', async () => {
    const [first, second] = await Promise.all([startTarget(), startTarget()]);
    try {
      const catalog = loadPlanCatalog();
      await Promise.all([syncCatalog(first.stripe, catalog), syncCatalog(second.stripe, catalog)]);
      // The starter product has a fixed id, so its product and prices are the same work on both accounts.
      expect(first.postKeys.slice(0, 3)).toEqual(second.postKeys.slice(0, 3));
      expect(first.postKeys[0]).toMatch(/^sync:product:create:coditect_plan:starter:/);
    } finally {
      await Promise.all([first.emulator.close(), second.emulator.close()]);
    }
  });
});

describe('the npm run stripe:sync command', () => {
  let emulator: RunningEmulator;
  const directory = mkdtempSync(join(tmpdir(), 'stripe-sync-cli-'));

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
  });

  afterAll(async () => {
    await emulator.close();
    rmSync(directory, { recursive: true, force: true });
  });

  /**
   * Runs the command with exactly `env`. By default through npm, as a person would (which also checks the
   * package.json script); `inEmptyDirectory` runs the script from an empty directory instead, so a
   * developer's own .env cannot supply a setting a test leaves out.
   */
  function runCommand(
    args: string[],
    env: Record<string, string>,
    options: { inEmptyDirectory?: boolean } = {},
  ): Promise<ChildResult> {
    const baseEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
    const child = options.inEmptyDirectory
      ? spawn(process.execPath, ['-r', '@swc-node/register', `${ROOT}/scripts/stripe-sync.ts`, ...args], {
          cwd: `${ROOT}/test/support/empty-cwd`,
          env: {
            ...baseEnv,
            NODE_PATH: `${ROOT}/node_modules`,
            SWC_NODE_PROJECT: `${ROOT}/tsconfig.json`,
            ...env,
          },
        })
      : spawn('npm', ['run', '-s', 'stripe:sync', '--', ...args], {
          cwd: ROOT,
          env: { ...baseEnv, ...env },
        });
    return outputOf(child, 'stripe:sync', 20_000);
  }

  it('syncs the emulator at STRIPE_API_BASE, then finds nothing to do', async () => {
    const env = { STRIPE_SECRET_KEY: STRIPE_KEY, STRIPE_API_BASE: emulator.url };
    const first = await runCommand([], env);
    expect(first).toMatchObject({ code: 0 });
    expect(first.output).toContain(`making ${emulator.url} match plans/plans.yaml`);
    expect(first.output).toMatch(
      /created\s+price\s+price_\w+\s+price_starter_monthly 1900 usd, 1800 eur\/month/,
    );
    expect(first.output).toContain('40 created, 0 updated, 0 archived, 0 unchanged');
    const second = await runCommand([], env);
    expect(second).toMatchObject({ code: 0 });
    expect(second.output).toContain('0 created, 0 updated, 0 archived, 40 unchanged');
  }, 60_000);

  it('stops with the line and the reason of a bad plans file, before calling Stripe', async () => {
    const path = join(directory, 'bad.yaml');
    writeFileSync(
      path,
      readFileSync('plans/plans.yaml', 'utf8').replace('usd: 1900, eur', 'usd: 19.00, eur'),
    );
    const events = emulator.store.all('event').length;
    const result = await runCommand([path], { STRIPE_SECRET_KEY: STRIPE_KEY, STRIPE_API_BASE: emulator.url });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(
      new RegExp(`${path}:\\d+:\\d+ plans\\[1\\]\\.prices\\[0\\]\\.amounts\\.usd: write whole numbers`),
    );
    expect(emulator.store.all('event')).toHaveLength(events);
  }, 30_000);

  it('says which setting is missing', async () => {
    const result = await runCommand(
      [`${ROOT}/plans/plans.yaml`],
      { STRIPE_API_BASE: emulator.url },
      { inEmptyDirectory: true },
    );
    expect(result.code).toBe(1);
    expect(result.output).toContain('STRIPE_SECRET_KEY is required');
  }, 30_000);
});

describe('readStripeSettings', () => {
  it('reads the key and the API base, and names what is wrong', () => {
    expect(
      readStripeSettings({ STRIPE_SECRET_KEY: STRIPE_KEY, STRIPE_API_BASE: 'http://127.0.0.1:12111' }),
    ).toEqual({
      secretKey: STRIPE_KEY,
      apiBase: 'http://127.0.0.1:12111',
    });
    expect(readStripeSettings({ STRIPE_SECRET_KEY: STRIPE_KEY, STRIPE_API_BASE: '' })).toEqual({
      secretKey: STRIPE_KEY,
      apiBase: null,
    });
    expect(() =>
      readStripeSettings({ STRIPE_SECRET_KEY: 'pk_test_123', STRIPE_API_BASE: 'not a url' }),
    ).toThrow(/STRIPE_SECRET_KEY must be a Stripe secret key[\s\S]*STRIPE_API_BASE must be a URL/);
    expect(() => readStripeSettings({})).toThrow(ConfigError);
  });
});

function hash(text: string): number {
  let value = 0;
  for (const character of text) value = (value * 31 + (character.codePointAt(0) ?? 0)) | 0;
  return value;
}
