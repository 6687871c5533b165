/**
 * Journey: sign up → billing page → Checkout → pay with 4242 4242 4242 4242 on the hosted page → success page →
 * webhooks → the subscription is active in the database → features provisioned → the billing page, open in
 * another tab the whole time, shows the paid plan without a reload (and a usage bar moving as usage is recorded).
 */
import { describeJourney, markPage, payOnCheckoutPage, text, waitForText } from './journey';

describeJourney('journey: checkout', (journey) => {
  it('pays on Checkout and the billing page shows the paid plan live', async () => {
    const accountId = 'acct_journey_checkout';
    const metricsBefore = await scrape(journey.stack.url);
    // The billing page the user keeps open in one tab.
    const watching = await journey.newPage();
    await journey.signUp(watching, accountId);
    expect(await text(watching, '#plan-name')).toBe('Free');
    expect(await watching.locator('[data-feature="team_collaboration"]').getAttribute('data-enabled')).toBe(
      'false',
    );
    const notReloaded = await markPage(watching);

    // In a second tab, the user buys Professional through Checkout.
    const buying = await journey.newPage();
    await journey.signUp(buying, accountId);
    expect(await text(buying, '[data-plan="professional"] .price')).toBe('$49.00 / month');
    // A first try the user backs out of: the cancel page says nothing was charged.
    await Promise.all([buying.waitForURL(/\/checkout\/pay\/cs_/), buying.click('#checkout-professional')]);
    await buying.click('#cancel');
    await waitForText(buying, '#checkout-canceled', /nothing was charged/);
    expect(await text(buying, '#plan-name')).toBe('Free');
    await buying.waitForSelector('body[data-live="true"]');
    await Promise.all([buying.waitForURL(/\/checkout\/pay\/cs_/), buying.click('#checkout-professional')]);
    expect(await buying.textContent('body')).toContain('$49.00');
    await payOnCheckoutPage(buying);

    // The success page confirms with checkoutSession(id) and then shows the billing page.
    await buying.waitForURL(/\/billing\/($|\?)/);
    await waitForText(buying, '#checkout-result', /You are subscribed to Professional \(active\)/);
    expect(await text(buying, '#plan-name')).toBe('Professional');

    // The webhooks land: active in the database, Professional's features provisioned.
    await journey.stack.flushWebhooks();
    const stored = await journey.stored(accountId);
    expect(stored).toMatchObject({ status: 'active', plan: 'professional' });
    expect(stored.features).toEqual(
      expect.arrayContaining(['ai_assistant', 'api_access', 'team_collaboration', 'priority_support']),
    );
    expect(stored.features).not.toContain('sso');

    // The tab that was open all along followed accountUpdated: paid plan, features, invoice, card.
    await waitForText(watching, '#plan-name', /^Professional$/);
    await waitForText(watching, '#plan-status', /active/);
    await waitForText(watching, '[data-feature="team_collaboration"]', /✓/);
    await waitForText(watching, '#invoices [data-status="paid"]', /\$49\.00/);
    await waitForText(watching, '#card', /Visa •••• 4242/);
    expect(await notReloaded()).toBe(true);
    const invoiceLink = await watching
      .locator('#invoices a', { hasText: 'View' })
      .first()
      .getAttribute('href');
    expect(invoiceLink).toContain(`${journey.stack.emulator.url}/invoice/in_`);

    // The usage bars move live too (usageUpdated), here as the AI gateway records requests.
    const gql = await journey.stack.as(accountId);
    const recorded = await gql(
      'mutation { recordUsage(input: { metric: "ai_requests", quantity: 2500, idempotencyKey: "journey-1" }) { duplicate } }',
    );
    expect(recorded.errors).toBeUndefined();
    await waitForText(watching, '[data-metric="ai_requests"] .usage-figures', /^2,500 of 10,000$/);
    expect(await notReloaded()).toBe(true);

    // Monitoring saw the journey: webhooks processed, a payment, Stripe calls, operations, usage, live sockets.
    const metricsAfter = await scrape(journey.stack.url);
    const moved = (name: string) => sumOf(metricsAfter, name) - sumOf(metricsBefore, name);
    expect(moved('billing_webhook_events_total{type="checkout.session.completed",outcome="processed"')).toBe(
      1,
    );
    expect(
      moved('billing_webhook_events_total{type="invoice.paid",outcome="processed"'),
    ).toBeGreaterThanOrEqual(1);
    expect(moved('billing_payments_total{outcome="succeeded"}')).toBe(1);
    expect(moved('billing_stripe_requests_total{method="checkout.sessions.create",outcome="success"}')).toBe(
      2,
    );
    expect(moved('billing_usage_events_recorded_total{metric="ai_requests"}')).toBe(1);
    expect(moved('billing_graphql_operations_total{')).toBeGreaterThan(5);
    expect(sumOf(metricsAfter, 'billing_graphql_subscriptions_active')).toBeGreaterThanOrEqual(2);

    await journey.screenshot(buying, 'checkout-success');
    await journey.screenshot(watching, 'checkout');
  });
});

async function scrape(serviceUrl: string): Promise<string> {
  const response = await fetch(`${serviceUrl}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

/** The sum of every sample whose line starts with `prefix` (a metric name, or a name and some labels). */
function sumOf(exposition: string, prefix: string): number {
  return exposition
    .split('\n')
    .filter((line) => line.startsWith(prefix))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
