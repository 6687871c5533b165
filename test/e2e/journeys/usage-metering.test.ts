/**
 * Journey (checklist 6.3.3): usage metering as a person sees it. Sign up → AI requests go through the usage
 * middleware of an AI gateway (a real Express app) → the usage bar on the billing page moves live → on Free,
 * request 101 is answered 402 and the page says the limit is reached → subscribe to Starter through Checkout →
 * 1,250 requests in the period → the bar shows 250 over → the OverageReporter sends them to Stripe and the
 * clock crosses the period end (the service's and the emulator's) → the renewal invoice (the month's $19.00 and 250 × $0.01 overage,
 * $21.50) appears on the page live, and Stripe's invoice says the same. One tab, never reloaded after Checkout.
 */
import { type AiGateway, startAiGateway } from '../../support/ai-gateway';
import { DAY, describeJourney, markPage, payOnCheckoutPage, text, waitForText } from './journey';

// The journey flushes the OverageReporter itself; a periodic pass in between would only add noise. Its 1,400
// requests through the gateway run in this one process (test, gateway, service): 11 s alone, past 90 s in a
// full local run with both jest projects on two cores (the 1,250 still in flight at the timeout).
describeJourney(
  'journey: usage metering',
  { env: { USAGE_REPORT_INTERVAL_SECONDS: '3600' }, timeoutMs: 240_000 },
  (journey) => {
    let gateway: AiGateway;
    beforeAll(async () => {
      gateway = await startAiGateway(journey.stack);
    });
    afterAll(() => gateway?.stop());

    const figures = '[data-metric="ai_requests"] .usage-figures';
    const note = '[data-metric="ai_requests"] .usage-note';

    it('meters AI requests live, stops Free at 100, and bills Starter’s overage on the renewal', async () => {
      // Redis outlives each run's database, and Free's usage period is the calendar month: a new account each run.
      const accountId = `acct_journey_usage_${Date.now().toString(36)}`;
      const { stack } = journey;
      const page = await journey.newPage();
      await journey.signUp(page, accountId);
      expect(await text(page, '#plan-name')).toBe('Free');
      expect(await text(page, figures)).toBe('0 of 100');
      let notReloaded = await markPage(page);

      // Free: the bar moves as the gateway records requests (usageUpdated, no reload).
      expect((await gateway.requests(accountId, 40, 'free')).every((status) => status === 200)).toBe(true);
      await gateway.gate.flush();
      await waitForText(page, figures, /^40 of 100$/);
      expect(
        await page.locator('[data-metric="ai_requests"] .bar span').evaluate((bar) => bar.style.width),
      ).toBe('40%');
      expect(await page.locator(note).count()).toBe(0);
      expect((await gateway.requests(accountId, 60, 'free-more')).every((status) => status === 200)).toBe(
        true,
      );
      await gateway.gate.flush();
      await waitForText(page, figures, /^100 of 100$/);
      await waitForText(page, note, /^Limit reached: Free includes 100 AI requests, and more are refused/);

      // Request 101 is refused with 402, naming the limit, and nothing more is counted.
      const refused = await gateway.request(accountId, 'free-100');
      expect(refused.status).toBe(402);
      expect(await refused.json()).toMatchObject({
        error: { code: 'USAGE_LIMIT_EXCEEDED', feature: 'ai_requests', limit: 100, used: 100 },
      });
      expect(await text(page, figures)).toBe('100 of 100');
      expect(await page.locator('[data-metric="ai_requests"] .bar.blocked').count()).toBe(1);
      expect(await notReloaded()).toBe(true);
      await journey.screenshot(page, 'usage-metering-free-limit');

      // Starter through Checkout, as the limit note suggests: a new usage period with 1,000 included.
      await Promise.all([page.waitForURL(/\/checkout\/pay\/cs_/), page.click('#checkout-starter')]);
      await payOnCheckoutPage(page);
      await waitForText(page, '#checkout-result', /You are subscribed to Starter \(active\)/);
      await waitForText(page, figures, /^0 of 1,000$/);
      expect(await page.locator(note).count()).toBe(0);
      await waitForText(page, '#invoices [data-status="paid"]', /\$19\.00/);
      notReloaded = await markPage(page);

      // 1,250 requests in the period: none refused, and the bar shows the 250 over.
      const statuses = await gateway.requests(accountId, 1250, 'starter');
      expect(statuses.filter((status) => status === 200)).toHaveLength(1250);
      await gateway.gate.flush({ timeoutMs: 120_000 });
      await waitForText(page, figures, /^1,250 of 1,000 · 250 over$/);
      await waitForText(
        page,
        note,
        /^250 AI requests over the 1,000 included: billed as overage on your next invoice\.$/,
      );
      expect(await page.locator('[data-metric="ai_requests"] .bar.over').count()).toBe(1);
      await journey.screenshot(page, 'usage-metering-overage');

      // The reporter sends the 250 to Stripe's meter; the period ends; Stripe bills the renewal with them.
      expect(await stack.app.overageReporter?.flush()).toMatchObject({ units: 250, failed: 0 });
      // A month passes for the service and the emulator alike (as in the payment-failure journey): moving only the
      // emulator's clock would bill the renewal while the service, still in the old period by its own clock, kept
      // showing the old period's usage.
      await journey.timePasses(32 * DAY);

      // The page follows (accountUpdated): the renewal invoice, paid, $21.50; a new period with nothing used.
      await waitForText(page, '#invoices [data-status="paid"]', /\$21\.50/, 20_000);
      await waitForText(page, figures, /^0 of 1,000$/);
      expect(await page.locator(note).count()).toBe(0);
      expect(await text(page, '#plan-name')).toBe('Starter');
      expect(await notReloaded()).toBe(true);

      // Stripe says the same: the renewal invoice has the $19.00 month and 250 × $0.01 of overage.
      const invoices = await stack.stripe.invoices.list({ limit: 100 });
      const renewal = invoices.data.find((invoice) => invoice.billing_reason === 'subscription_cycle');
      expect(renewal).toMatchObject({
        amount_due: 1900 + 250,
        amount_paid: 2150,
        currency: 'usd',
        status: 'paid',
      });
      const [overagePrice] = (await stack.stripe.prices.list({ lookup_keys: ['price_ai_requests_overage'] }))
        .data;
      const overage = renewal?.lines.data.filter(
        (line) => line.pricing?.price_details?.price === overagePrice?.id,
      );
      expect(overage?.map((line) => [line.quantity, line.amount])).toEqual([[250, 250]]);
      const row = page.locator(`#invoices [data-invoice="${renewal?.id}"]`);
      expect(await row.getAttribute('data-status')).toBe('paid');

      // "View" opens Stripe's hosted invoice, where the overage line is itemized.
      const [hosted] = await Promise.all([
        page.context().waitForEvent('page'),
        row.locator('a', { hasText: 'View' }).click(),
      ]);
      await hosted.waitForLoadState('load');
      const hostedText = (await hosted.textContent('body')) ?? '';
      expect(hostedText).toContain('$2.50');
      expect(hostedText).toContain('$21.50');
      await journey.screenshot(hosted, 'usage-metering-invoice');
      await hosted.close();

      await journey.screenshot(page, 'usage-metering');
    });
  },
);
