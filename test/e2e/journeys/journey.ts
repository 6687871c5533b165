/**
 * What every journey shares: the service with its own Stripe emulator (webhooks on), real PostgreSQL and
 * Redis, on a fixed free port so Checkout and the portal may send the browser back to it; one headless
 * Chromium per file; signing up through the billing page's development sign-in; a screenshot of the last page.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { Entitlement, Subscription } from '../../../src/entities';
import { type BillingStack, startBillingStack } from '../../support/billing-stack';
import { testRedisUrl } from '../../support/redis';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
const ARTIFACTS = resolve(__dirname, '../../../test-artifacts/journeys');
export const DAY = 24 * 3600;

if (!haveChromium && process.env.CI !== 'true') {
  console.warn(
    `SKIPPING the browser journeys: ${CHROMIUM} not found (apt-get install -y chromium). They fail under CI=true.`,
  );
}

/** A journey runs where Chromium is, and always under CI (where a missing Chromium fails it). */
export const withChromium = haveChromium || process.env.CI === 'true';

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

export interface Journey {
  stack: BillingStack;
  browser: Browser;
  /** The billing page, e.g. http://127.0.0.1:41234/billing/ */
  billingUrl: string;
  /** A new tab (its own sessionStorage, so sign in on it) with a deadline on every wait. */
  newPage(): Promise<Page>;
  /** Signs up as a person would in development: the billing page's sign-in, then the page is live. */
  signUp(page: Page, accountId: string): Promise<void>;
  /** What the database holds for the account: the subscription row and the enabled features. */
  stored(accountId: string): Promise<{ status: string | null; plan: string | null; features: string[] }>;
  /** Keeps the page as test-artifacts/journeys/<name>.png. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export async function startJourney(env: Record<string, string> = {}): Promise<Journey> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const stack = await startBillingStack(
    {
      PORT: String(port),
      BILLING_ALLOWED_REDIRECT_ORIGINS: origin,
      REDIS_URL: testRedisUrl,
      // The journeys move time themselves; a periodic catch-up would only add noise.
      RECONCILE_INTERVAL_MS: '0',
      ...env,
    },
    { webhooks: true },
  );
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: 30_000,
    });
  } catch (error) {
    await stack.stop();
    throw error;
  }
  const billingUrl = `${origin}/billing/`;
  return {
    stack,
    browser,
    billingUrl,
    newPage: async () => {
      const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
      page.setDefaultTimeout(15_000);
      page.on('pageerror', (error) => console.error(`browser: ${error.message}`));
      return page;
    },
    signUp: async (page, accountId) => {
      await page.goto(billingUrl);
      await page.fill('#account-id', accountId);
      await page.fill('#email', `${accountId}@example.com`);
      await page.click('#sign-in-submit');
      await page.waitForSelector('body[data-live="true"]');
    },
    stored: async (accountId) => {
      const em = stack.service.service.orm.em.fork();
      const subscription = await em.findOne(Subscription, { accountId }, { orderBy: { createdAt: 'desc' } });
      const features = await em.find(
        Entitlement,
        { accountId, enabled: true },
        { orderBy: { featureKey: 'asc' } },
      );
      return {
        status: subscription?.status ?? null,
        plan: subscription?.planKey ?? null,
        features: features.map((entitlement) => entitlement.featureKey),
      };
    },
    screenshot: async (page, name) => {
      mkdirSync(ARTIFACTS, { recursive: true });
      const path = resolve(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    close: async () => {
      await browser.close();
      await stack.stop();
    },
  };
}

/** The text of an element, trimmed (empty when it is not there). */
export async function text(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).first().textContent({ timeout: 15_000 })) ?? '').trim();
}

/** Waits until an element's text matches: a live update arriving, with the test's deadline. */
export async function waitForText(page: Page, selector: string, expected: RegExp, timeoutMs = 15_000) {
  const locator = page.locator(selector).filter({ hasText: expected });
  await locator.first().waitFor({ timeout: timeoutMs });
}

/** Pays on the emulator's hosted Checkout page, as a person types a card. */
export async function payOnCheckoutPage(page: Page, card = '4242 4242 4242 4242'): Promise<void> {
  await page.waitForSelector('#card');
  await page.fill('#card', card);
  await page.click('#submit');
}

/** Marks the page; `stillSamePage` is true only if it was not reloaded or left since. */
export async function markPage(page: Page): Promise<() => Promise<boolean>> {
  const mark = `journey-${Math.random().toString(36).slice(2)}`;
  await page.evaluate(`window.__journeyMark = ${JSON.stringify(mark)}`);
  return async () => (await page.evaluate('window.__journeyMark')) === mark;
}
