/**
 * Journey: a customer whose billing address is in Germany sees the plans in euros (€18.00 for Starter, formatted
 * by EUR's own exponent), pays €18.00 on Checkout's hosted page, and the invoice the billing page then lists is in
 * EUR (docs/billing-rules.md rows 53–55).
 */
import { describeJourney, payOnCheckoutPage, text, waitForText } from './journey';

describeJourney('journey: currencies', (journey) => {
  it('a German billing address shows €18.00, Checkout charges €18.00, and the invoice is in EUR', async () => {
    const accountId = 'acct_journey_currencies';
    const asCustomer = await journey.stack.as(accountId);
    const moved = await asCustomer(
      'mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { email } }',
      {
        input: {
          address: { line1: 'Unter den Linden 1', city: 'Berlin', postalCode: '10117', country: 'DE' },
        },
      },
    );
    expect(moved.errors).toBeUndefined();

    const page = await journey.newPage();
    await journey.signUp(page, accountId);
    expect(await text(page, '[data-plan="starter"] .price')).toBe('€18.00 / month');
    expect(await text(page, '[data-plan="professional"] .price')).toBe('€45.00 / month');
    expect(await text(page, '[data-plan="free"] .price')).toBe('€0.00');

    await Promise.all([page.waitForURL(/\/checkout\/pay\/cs_/), page.click('#checkout-starter')]);
    const hosted = (await page.textContent('body')) ?? '';
    // The emulator's hosted page writes amounts as `18.00 EUR` (emulator/README.md, "Currencies").
    expect(hosted).toMatch(/Total\s*18\.00 EUR/);
    expect(hosted).not.toContain('19.00');
    await payOnCheckoutPage(page);
    await page.waitForURL(/\/billing\/($|\?)/);
    await waitForText(page, '#checkout-result', /You are subscribed to Starter/);
    await journey.stack.flushWebhooks();

    await waitForText(page, '#invoices [data-status="paid"]', /€18\.00/);
    const customer = await journey.stack.app.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ stripe_customer_id: string; currency: string }>>(
        'select stripe_customer_id, currency from billing_customer where account_id = ?',
        [accountId],
      );
    expect(customer[0]?.currency).toBe('eur');
    const invoices = await journey.stack.stripe.invoices.list({ customer: customer[0]?.stripe_customer_id });
    expect(invoices.data.map((invoice) => [invoice.currency, invoice.amount_paid])).toEqual([['eur', 1800]]);
  }, 120_000);
});
