/**
 * What every journey shares: the service with its own Stripe emulator (webhooks on), real PostgreSQL and
 * Redis, on a fixed free port so Checkout and the portal may send the browser back to it; one headless
 * Chromium per file; signing up through the billing page's development sign-in; a screenshot of the last page.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import Redis from 'ioredis';
import { type Browser, chromium, type Page } from 'playwright-core';
import { Entitlement, Subscription } from '../../../src/entities';
import { redisChannelName } from '../../../src/pubsub/redis-pubsub';
import { type BillingStack, startBillingStack } from '../../support/billing-stack';
import { freePort } from '../../support/free-port';
import { describeWithRedis, testRedisUrl } from '../../support/redis';
import { waitForRedisSubscribers } from '../../support/ws-client';

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
  /**
   * Time passes for the service and the emulator alike: the wall clock of the whole process moves (jest fakes
   * `Date` only, and it keeps ticking; timers stay real), then the emulator runs what is due by its clock and
   * its webhooks are delivered. What time passing does in production: moving only the emulator's clock would
   * leave the service in the past (its grace periods and usage periods go by its own clock).
   */
  timePasses(seconds: number): Promise<void>;
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
  // To see when a page's subscriptions are in place on the server (Redis SUBSCRIBE comes after the socket).
  const redis = new Redis(testRedisUrl);
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
      // The page is connected; its subscriptions reach Redis a moment later (seconds on a loaded machine).
      // Until then a change would be published to nobody, so a journey waits for them as a person never has to.
      // (One instance subscribes to a channel once, however many of its pages follow the account.)
      await waitForRedisSubscribers(
        redis,
        redisChannelName(stack.database.name, `ACCOUNT_UPDATED:${accountId}`),
      );
      await waitForRedisSubscribers(
        redis,
        redisChannelName(stack.database.name, `USAGE_UPDATED:${accountId}`),
      );
    },
    stored: async (accountId) => {
      const em = stack.app.orm.em.fork();
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
    timePasses: async (seconds) => {
      // Stripe's clock moves, and the service's follows it (BILLING_CLOCK=emulator): nothing else is faked.
      await stack.advanceClock(seconds);
      await stack.flushWebhooks();
    },
    screenshot: async (page, name) => {
      mkdirSync(ARTIFACTS, { recursive: true });
      const path = resolve(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    close: async () => {
      redis.disconnect();
      await browser.close();
      await stack.stop();
    },
  };
}

export interface JourneyOptions {
  /** The test timeout of the file (a journey waits on a browser, webhooks and mails). */
  timeoutMs?: number;
  /** Added to the service's environment. */
  env?: Record<string, string>;
  /**
   * Something the service needs before it starts (an SMTP inbox): started first, what `start` returns added to
   * the service's environment; stopped after the service.
   */
  needs?: { start(): Promise<Record<string, string>>; stop(): Promise<void> };
}

/**
 * A journey file: a describe block (skipped without Chromium, outside CI, and without Redis) that starts the
 * journey before its tests and closes it after them. `steps` declares the tests; the journey it is given is
 * filled in when the tests run. Hooks that `steps` declares run after the journey has started and before it
 * closes (what is started there may use the service, and is stopped while the service is still up).
 */
export function describeJourney(name: string, steps: (journey: Journey) => void): void;
export function describeJourney(
  name: string,
  options: JourneyOptions,
  steps: (journey: Journey) => void,
): void;
export function describeJourney(
  name: string,
  ...args: [(journey: Journey) => void] | [JourneyOptions, (journey: Journey) => void]
): void {
  const [options, steps] = args.length === 1 ? [{} as JourneyOptions, args[0]] : args;
  jest.setTimeout(options.timeoutMs ?? 90_000);
  (withChromium ? describeWithRedis : describe.skip)(name, () => {
    const journey = {} as Journey;
    beforeAll(async () => {
      const needed = (await options.needs?.start()) ?? {};
      Object.assign(journey, await startJourney({ ...options.env, ...needed }));
    });
    steps(journey);
    afterAll(async () => {
      // Absent when the start failed.
      await (journey as Partial<Journey>).close?.();
      await options.needs?.stop();
    });
  });
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

/**
 * A new customer on the billing page subscribes to Starter on Checkout, paying with a card that works, and is back
 * on the page, subscribed, with the webhooks delivered.
 */
export async function subscribeToStarter(journey: Journey, page: Page, accountId: string): Promise<void> {
  await journey.signUp(page, accountId);
  await page.waitForSelector('body[data-live="true"]');
  await Promise.all([page.waitForURL(/\/checkout\/pay\/cs_/), page.click('#checkout-starter')]);
  await payOnCheckoutPage(page);
  await page.waitForURL(/\/billing\/($|\?)/);
  await waitForText(page, '#checkout-result', /You are subscribed to Starter/);
  await journey.stack.flushWebhooks();
}

/** Marks the page; `stillSamePage` is true only if it was not reloaded or left since. */
export async function markPage(page: Page): Promise<() => Promise<boolean>> {
  const mark = `journey-${Math.random().toString(36).slice(2)}`;
  await page.evaluate(`window.__journeyMark = ${JSON.stringify(mark)}`);
  return async () => (await page.evaluate('window.__journeyMark')) === mark;
}
