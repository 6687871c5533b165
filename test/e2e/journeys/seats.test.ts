/**
 * Journey: seats on the billing page. A team of 5 subscribes to Professional through Checkout (5 seats come with
 * the plan) and takes all 5; the page says the limit is reached and offers seats, at $12.00 each a month. Ten days
 * later it asks for 7: the charge made now is the two extra seats prorated to the period end, on the emulator's
 * invoice and on the page, and the seats limit is 7 at once.
 */
import type Stripe from 'stripe';
import { DAY, describeJourney, payOnCheckoutPage, waitForText } from './journey';

describeJourney('journey: seats', (journey) => {
  it('a team of 5 on Professional buys 2 more seats: the prorated charge now, the limit 7', async () => {
    const accountId = 'acct_journey_seats';
    const page = await journey.newPage();
    await journey.signUp(page, accountId);
    await waitForText(
      page,
      '[data-seat-price="professional"]',
      /5 seats included; \+ \$12\.00 per extra seat/,
    );

    await Promise.all([page.waitForURL(/\/checkout\/pay\/cs_/), page.click('#checkout-professional')]);
    await payOnCheckoutPage(page);
    await page.waitForURL(/\/billing\/($|\?)/);
    await waitForText(page, '#checkout-result', /You are subscribed to Professional/);
    await journey.stack.flushWebhooks();
    await waitForText(
      page,
      '#seats-line',
      /^5 seats, 0 taken\. 5 come with the plan; each one more is \$12\.00 \/ month/,
    );

    // The team takes its 5 seats (as CODITECT's backend records the gauge's level); a 6th is refused.
    const gateway = await journey.stack.as('svc_ai_gateway', ['service']);
    const record = (level: number, key: string) =>
      gateway(
        'mutation($input: RecordUsageInput!) { recordUsage(input: $input) { usage { used included } } }',
        { input: { accountId, metric: 'seats', quantity: level, idempotencyKey: key } },
      );
    expect((await record(5, 'seats-5')).errors).toBeUndefined();
    const sixth = await record(6, 'seats-6');
    expect(sixth.errors?.[0]?.extensions).toMatchObject({ code: 'USAGE_LIMIT_EXCEEDED', remedy: 'setSeats' });
    await waitForText(
      page,
      '[data-metric="seats"] .usage-note',
      /all 5 seats paid for are taken\. Add seats above/,
    );

    await journey.timePasses(10 * DAY);
    await page.fill('#seats-quantity', '7');
    await page.click('#set-seats');
    await waitForText(page, '#seats-purchased', /^7$/);

    // Stripe's proration by the second: round(2 × $12.00 × (period end − change) / (period end − period start)).
    const { stripe } = journey.stack;
    const customer = (await stripe.customers.search({ query: `metadata['account_id']:'${accountId}'` }))
      .data[0];
    const subscription = (await stripe.subscriptions.list({ customer: customer?.id }))
      .data[0] as Stripe.Subscription;
    const seatsItem = subscription.items.data.find((item) => item.price.metadata.coditect_seats_for);
    const invoices = await stripe.invoices.list({ customer: customer?.id, limit: 10 });
    const charge = invoices.data.find(
      (invoice) => invoice.billing_reason === 'subscription_update',
    ) as Stripe.Invoice;
    const line = charge.lines.data[0] as Stripe.InvoiceLineItem;
    const start = seatsItem?.current_period_start as number;
    const end = seatsItem?.current_period_end as number;
    const expected = Math.round((2 * 1200 * (end - line.period.start)) / (end - start));
    expect(charge.lines.data).toHaveLength(1);
    expect({
      quantity: line.quantity,
      amount: line.amount,
      paid: charge.amount_paid,
      status: charge.status,
    }).toEqual({
      quantity: 2,
      amount: expected,
      paid: expected,
      status: 'paid',
    });
    // About 21 days of 30 or 31 left: between $15 and $17.
    expect(expected).toBeGreaterThan(1500);
    expect(expected).toBeLessThan(1700);

    // The page shows that charge (the newest invoice) and the new limit.
    const shown = `$${(expected / 100).toFixed(2)}`;
    await waitForText(
      page,
      `[data-invoice="${charge.id}"]`,
      new RegExp(shown.replace('.', '\\.').replace('$', '\\$')),
    );
    await waitForText(page, '[data-metric="seats"] .usage-figures', /^5 of 7$/);
    expect((await record(7, 'seats-7')).errors).toBeUndefined();
    await journey.screenshot(page, 'seats');
  }, 120_000);
});
