/**
 * The billing page in headless Chromium, as compiled for production, with the billing service played by routes:
 * GraphQL over HTTP answers canned data, the WebSocket only acknowledges. What it checks is the page's own copy,
 * so no service, emulator or database runs: amounts in a zero-decimal currency (JPY) read as they are charged.
 */
import { type Browser, chromium, type Page, type Route } from 'playwright-core';
import { compileBillingPage } from '../../src/http/billing-page-files';
import { CHROMIUM, withChromium } from './journeys/journey';

const ORIGIN = 'http://billing.test';

interface Catalog {
  currency: string;
  /** Prices of the starter plan, in the currency's minor units. */
  starter: { month: number; year: number };
  invoicePaid: number;
  preview: { amountDue: number; lines: number[] };
}

const nextBillLine = {
  periodStart: '2027-01-05T00:00:00.000Z',
  periodEnd: '2027-02-05T00:00:00.000Z',
  proration: false,
};

/**
 * The answers of the service: a starter subscriber with one paid invoice, a next bill (the plan and 250 units of
 * overage at half a minor unit), and a catalog in one currency.
 */
function answers(catalog: Catalog): Record<string, unknown> {
  const plan = (key: string, name: string, prices: Array<{ interval: string; amount: number }>) => ({
    key,
    name,
    description: `${name} plan`,
    salesLed: false,
    trialDays: 0,
    prices: prices.map((price) => ({ ...price, currency: catalog.currency })),
    limits: [],
  });
  const account = {
    id: 'acct_yen',
    currency: catalog.currency,
    plan: { key: 'starter', name: 'Starter' },
    customer: { email: 'yen@example.com' },
    subscription: {
      id: 'sub_1',
      status: 'ACTIVE',
      interval: 'MONTH',
      plan: { key: 'starter', name: 'Starter' },
      currentPeriodEnd: '2027-01-05T00:00:00.000Z',
      cancelAtPeriodEnd: false,
      trialEnd: null,
      scheduledChange: null,
    },
    paymentMethods: [{ brand: 'visa', last4: '4242', isDefault: true }],
    entitlements: [],
    // No add-on bought, none offered: this page is about how amounts read.
    addons: [],
    usage: [],
    invoices: {
      nodes: [
        {
          id: 'in_1',
          number: 'INV-1',
          status: 'paid',
          amountDue: catalog.invoicePaid,
          amountPaid: catalog.invoicePaid,
          currency: catalog.currency,
          hostedInvoiceUrl: null,
          invoicePdf: null,
          createdAt: '2026-12-05T00:00:00.000Z',
        },
      ],
    },
  };
  return {
    BillingPage: {
      viewer: account,
      addons: [],
      plans: [
        plan('free', 'Free', []),
        plan('starter', 'Starter', [
          { interval: 'MONTH', amount: catalog.starter.month },
          { interval: 'YEAR', amount: catalog.starter.year },
        ]),
        plan('professional', 'Professional', [
          { interval: 'MONTH', amount: catalog.starter.month * 2 },
          { interval: 'YEAR', amount: catalog.starter.year * 2 },
        ]),
      ],
    },
    NextBill: {
      viewer: {
        upcomingInvoice: {
          date: '2027-01-05T00:00:00.000Z',
          total: catalog.starter.month + 125,
          amountDue: catalog.starter.month + 125,
          currency: catalog.currency,
          // Stripe Tax is off for this page: no tax lines, no reverse charge.
          taxLines: [],
          reverseCharge: false,
          reverseChargeNote: null,
          lines: [
            {
              ...nextBillLine,
              description: 'Starter',
              quantity: 1,
              unitAmountDecimal: String(catalog.starter.month),
              amount: catalog.starter.month,
            },
            // 250 units at half a minor unit each: a sub-cent price is shown from its decimal string.
            { ...nextBillLine, description: 'Overage', quantity: 250, unitAmountDecimal: '0.5', amount: 125 },
          ],
        },
      },
    },
    TaxIds: { viewer: { customer: { taxIds: [] } } },
    Preview: {
      previewSubscriptionChange: {
        amountDue: catalog.preview.amountDue,
        currency: catalog.currency,
        nextPaymentAt: null,
        chargedNow: true,
        taxLines: [],
        reverseCharge: false,
        reverseChargeNote: null,
        lines: catalog.preview.lines.map((amount, index) => ({ description: `line ${index + 1}`, amount })),
      },
    },
  };
}

/** Serves the compiled page under /billing/ and answers its operations by name. */
async function openPage(browser: Browser, catalog: Catalog): Promise<Page> {
  const files = new Map(compileBillingPage().map((file) => [`/billing/${file.path}`, file]));
  const byOperation = answers(catalog);
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (error) => console.error(`browser: ${error.message}`));
  await page.route(`${ORIGIN}/**`, (route: Route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/graphql') {
      const { query } = route.request().postDataJSON() as { query: string };
      const name = /^\s*(?:query|mutation)\s+(\w+)/.exec(query)?.[1] ?? '';
      const data = byOperation[name];
      return route.fulfill({
        contentType: 'application/json',
        body: JSON.stringify(data ? { data } : { errors: [{ message: `no answer for ${name}` }] }),
      });
    }
    const file = files.get(url.pathname === '/billing/' ? '/billing/index.html' : url.pathname);
    return file
      ? route.fulfill({ contentType: file.contentType, body: file.body })
      : route.fulfill({ status: 404, body: 'not found' });
  });
  // graphql-ws: acknowledge the connection; no update is sent.
  await page.routeWebSocket(`ws://billing.test/graphql`, (socket) => {
    socket.onMessage((message) => {
      const type = (JSON.parse(String(message)) as { type: string }).type;
      if (type === 'connection_init') socket.send(JSON.stringify({ type: 'connection_ack' }));
      if (type === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
    });
  });
  await page.goto(`${ORIGIN}/billing/?token=test-token`);
  await page.waitForSelector('body[data-live="true"]');
  return page;
}

const text = async (page: Page, selector: string) => ((await page.textContent(selector)) ?? '').trim();

(withChromium ? describe : describe.skip)('the billing page writes amounts in their own currency', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: 30_000,
    });
  });
  afterAll(() => browser?.close());

  it('JPY, a zero-decimal currency: ¥4,900 is 4900, not ¥49.00', async () => {
    const page = await openPage(browser, {
      currency: 'jpy',
      starter: { month: 4900, year: 49000 },
      invoicePaid: 4900,
      preview: { amountDue: 5100, lines: [-4900, 10000] },
    });
    try {
      expect(await text(page, '[data-plan="starter"] .price')).toBe('¥4,900 / month');
      expect(await text(page, '[data-plan="professional"] .price')).toBe('¥9,800 / month');
      expect(await text(page, '[data-plan="free"] .price')).toBe('¥0');
      expect(await text(page, '[data-invoice="in_1"] .num')).toBe('¥4,900');
      expect(await text(page, '#next-bill-total')).toBe('¥5,025');
      await page.click('#interval-year');
      expect(await text(page, '[data-plan="starter"] .price')).toBe('¥49,000 / year');
      await page.click('#change-professional');
      await page.waitForSelector('#preview-amount');
      expect(await text(page, '#preview-amount')).toBe('¥5,100');
      expect(await page.$$eval('#preview td.num', (cells) => cells.map((cell) => cell.textContent))).toEqual([
        '-¥4,900',
        '¥10,000',
      ]);
    } finally {
      await page.close();
    }
  });

  it('USD and EUR keep their cents', async () => {
    for (const [currency, month, free] of [
      ['usd', '$19.00 / month', '$0.00'],
      ['eur', '€19.00 / month', '€0.00'],
    ]) {
      const page = await openPage(browser, {
        currency,
        starter: { month: 1900, year: 19000 },
        invoicePaid: 1999,
        preview: { amountDue: 0, lines: [] },
      });
      try {
        expect(await text(page, '[data-plan="starter"] .price')).toBe(month);
        expect(await text(page, '[data-plan="free"] .price')).toBe(free);
        expect(await text(page, '[data-invoice="in_1"] .num')).toBe(month.replace('19.00 / month', '19.99'));
        expect(await text(page, '#next-bill-total')).toBe(month.replace('19.00 / month', '20.25'));
        expect(
          await page.$$eval('#next-bill .line td:nth-child(2)', (cells) =>
            cells.map((cell) => cell.textContent),
          ),
        ).toEqual([`1 × ${month.replace(' / month', '')}`, '250 × 0.5¢']);
      } finally {
        await page.close();
      }
    }
  });
});
