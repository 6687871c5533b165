/**
 * Journey: tax on the billing page, the service with STRIPE_TAX=on and the emulated seller in Ireland (the
 * emulator's default origin). An Irish customer sees 23 % VAT on Stripe's Checkout page, the next bill, a plan
 * change's preview and the paid invoice; a German business adds its VAT ID on the page, Stripe verifies it, and
 * its invoices carry no VAT and the reverse charge note.
 */
import type { Page } from 'playwright-core';
import { describeJourney, payOnCheckoutPage, waitForText } from './journey';

describeJourney('journey: tax', { env: { STRIPE_TAX: 'on' }, timeoutMs: 150_000 }, (journey) => {
  /** The billing address, set as the app's settings page would (the billing page has no address form). */
  async function setAddress(accountId: string, country: string, postalCode: string): Promise<void> {
    const gql = await journey.stack.as(accountId);
    const answer = await gql(
      'mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { id } }',
      {
        input: {
          email: `${accountId}@example.com`,
          address: { line1: '1 Main Street', city: 'Town', postalCode, country },
        },
      },
    );
    expect(answer.errors).toBeUndefined();
  }

  /** Stripe's Checkout asks for the billing address with tax on: the customer types the one it has. */
  async function subscribeOnCheckout(page: Page, country: string, expectedTotal: string): Promise<void> {
    await Promise.all([page.waitForURL(/\/checkout\/pay\/cs_/), page.click('#checkout-starter')]);
    expect(await page.textContent('body')).toContain(expectedTotal);
    await page.fill('#country', country);
    await payOnCheckoutPage(page);
    await page.waitForURL(/\/billing\/($|\?)/);
    await waitForText(page, '#checkout-result', /You are subscribed to Starter/);
    await journey.stack.flushWebhooks();
  }

  async function openFirstInvoice(page: Page): Promise<void> {
    await page.locator('.show-invoice').first().click();
    await page.waitForSelector('#invoice-details');
  }

  it('an Irish customer sees 23 % VAT at Checkout, on the next bill, the preview and the paid invoice', async () => {
    const accountId = 'acct_journey_tax_ie';
    await setAddress(accountId, 'IE', 'D02 X285');
    const page = await journey.newPage();
    await journey.signUp(page, accountId);

    // An Irish billing address pays in euros (docs/billing-rules.md row 53): Starter €18.00 + 23 % VAT (€4.14) =
    // €22.14. Stripe's hosted page (the emulator's) writes it `22.14 EUR`.
    await subscribeOnCheckout(page, 'IE', '22.14 EUR');
    await page.reload();
    await page.waitForSelector('body[data-live="true"]');
    await waitForText(page, '#next-bill [data-tax="next-bill"]', /VAT \(IE, 23 %\)\s*€4\.14/);
    await waitForText(page, '#next-bill-total', /€22\.14/);

    await page.click('#change-professional');
    await waitForText(page, '#preview [data-tax="preview"]', /VAT \(IE, 23 %\)/);

    await openFirstInvoice(page);
    await waitForText(page, '#invoice-details [data-tax="invoice"]', /VAT \(IE, 23 %\)\s*€4\.14/);
    await waitForText(page, '#invoice-total', /€22\.14/);
    await journey.screenshot(page, 'tax-ireland');
  });

  it('a German business with a verified VAT ID pays no VAT and sees the reverse charge note', async () => {
    const accountId = 'acct_journey_tax_de';
    await setAddress(accountId, 'DE', '10115');
    const page = await journey.newPage();
    await journey.signUp(page, accountId);

    await page.waitForSelector('#vat-id');
    await page.fill('#vat-id', 'DE123456789');
    await page.click('#add-vat-id');
    await waitForText(page, '#vat [data-vat="DE123456789"]', /Verified/);

    // €18.00 (a German address pays in euros) and no VAT: the buyer accounts for it.
    await subscribeOnCheckout(page, 'DE', '18.00 EUR');
    await page.reload();
    await page.waitForSelector('body[data-live="true"]');
    await waitForText(page, '#next-bill-reverse-charge', /^Reverse charge$/);
    await waitForText(page, '#next-bill-total', /€18\.00/);
    expect(await page.locator('#next-bill [data-tax="next-bill"]').count()).toBe(0);

    await openFirstInvoice(page);
    await waitForText(page, '#invoice-reverse-charge', /^Reverse charge$/);
    await waitForText(page, '#invoice-total', /€18\.00/);

    // Removing the ID: Stripe taxes the next bill again (19 % of €18.00 = €3.42).
    await page.locator('#vat .remove-vat-id').first().click();
    await waitForText(page, '#next-bill [data-tax="next-bill"]', /VAT \(DE, 19 %\)\s*€3\.42/);
    // The bill and the VAT list are redrawn from separate answers: wait for the list too, not only the bill.
    await page.locator('#vat [data-vat]').first().waitFor({ state: 'detached' });
    expect(await page.locator('#vat [data-vat]').count()).toBe(0);
    await journey.screenshot(page, 'tax-germany');
  });
});
