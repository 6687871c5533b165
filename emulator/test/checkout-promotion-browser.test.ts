/**
 * A promotion code typed into the hosted Checkout page's box in headless Chromium (as `checkout-browser.test.ts`):
 * a wrong code comes back as an error on the page, the right one (any case) discounts what the customer pays.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import type Stripe from 'stripe';
import { startTestEmulator, type TestEmulator } from './core-helpers';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI !== 'true') {
  console.warn(`SKIPPING checkout-promotion-browser: ${CHROMIUM} not found. This test fails under CI=true.`);
}
const maybe = haveChromium || process.env.CI === 'true' ? test : test.skip;

let emulator: TestEmulator;
let browser: Browser | undefined;

beforeAll(async () => {
  emulator = await startTestEmulator();
});
afterAll(async () => {
  await browser?.close();
  await emulator.close();
});

maybe(
  'takes a promotion code typed on the hosted page',
  async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
      timeout: 30000,
    });
    const stripe: Stripe = emulator.stripe;
    const product = await stripe.products.create({ name: 'Team' });
    const price = await stripe.prices.create({
      product: product.id,
      currency: 'usd',
      unit_amount: 4000,
      recurring: { interval: 'month' },
    });
    const coupon = await stripe.coupons.create({ percent_off: 25, duration: 'forever' });
    await stripe.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, code: 'TEAM25' });
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price: price.id, quantity: 1 }],
      allow_promotion_codes: true,
      success_url: `${emulator.url}/_emulator/health?cs={CHECKOUT_SESSION_ID}`,
    });
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    await page.goto(String(session.url));
    await page.fill('#email', 'promo@example.com');
    await page.fill('#promotion_code', 'TEAM50');
    await page.fill('#card', '4242 4242 4242 4242');
    await page.click('#submit');
    await page.waitForSelector('#error');
    expect(await page.textContent('#error')).toBe('This code is invalid.');
    await page.fill('#promotion_code', 'team25');
    await Promise.all([page.waitForURL('**/_emulator/health**'), page.click('#submit')]);

    const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['invoice'] });
    expect(done).toMatchObject({
      status: 'complete',
      amount_total: 3000,
      total_details: { amount_discount: 1000 },
    });
    expect(done.invoice).toMatchObject({ subtotal: 4000, total: 3000, amount_paid: 3000 });
  },
  60000,
);
