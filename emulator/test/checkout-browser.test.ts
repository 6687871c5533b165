/**
 * A checkout completed through the hosted page in headless Chromium (Debian `chromium`, driven by
 * playwright-core): fill the card, submit, land on the success URL with the session id, and find
 * an active subscription through the SDK. Without Chromium this fails under CI=true and is skipped
 * loudly otherwise.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';
import type Stripe from 'stripe';
import { startTestEmulator, type TestEmulator } from './core-helpers';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI !== 'true') {
  console.warn(
    `SKIPPING checkout-browser: ${CHROMIUM} not found (apt-get install -y chromium). This test fails under CI=true.`,
  );
}
const maybe = haveChromium || process.env.CI === 'true' ? test : test.skip;

let emulator: TestEmulator;
let browser: Browser | undefined;
let app: http.Server;
let appUrl = '';

beforeAll(async () => {
  emulator = await startTestEmulator();
  // The "merchant app": serves the success and cancel pages the browser is redirected to.
  app = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<h1 id="landed">${req.url}</h1>`);
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
  appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await browser?.close();
  await emulator.close();
  await new Promise<void>((r) => app.close(() => r()));
});

maybe(
  'fills the card on the hosted page, redirects to success_url and the subscription is active',
  async () => {
    expect(existsSync(CHROMIUM)).toBe(true);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      timeout: 30000,
    });
    const stripe: Stripe = emulator.stripe;
    const product = await stripe.products.create({ name: 'Pro' });
    const price = await stripe.prices.create({
      product: product.id,
      currency: 'usd',
      unit_amount: 2900,
      recurring: { interval: 'month' },
    });
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: `${appUrl}/success?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${appUrl}/cancel`,
    });
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    await page.goto(String(session.url));
    // A declined card first: the form comes back with the error.
    await page.fill('#email', 'browser@example.com');
    await page.fill('#card', '4000 0000 0000 0002');
    await page.click('#submit');
    await page.waitForSelector('#error');
    expect(await page.textContent('#error')).toMatch(/declined/i);
    await page.fill('#card', '4242 4242 4242 4242');
    await Promise.all([page.waitForURL(`${appUrl}/success**`), page.click('#submit')]);
    expect(page.url()).toBe(`${appUrl}/success?session_id=${session.id}`);
    expect(await page.textContent('#landed')).toContain(session.id);

    const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['subscription'] });
    expect(done.status).toBe('complete');
    const subscription = done.subscription as Stripe.Subscription;
    expect(subscription.status).toBe('active');
    const customer = (await stripe.customers.retrieve(String(done.customer))) as Stripe.Customer;
    expect(customer.email).toBe('browser@example.com');
  },
  60000,
);
