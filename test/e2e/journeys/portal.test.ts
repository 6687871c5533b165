/**
 * Journey: a subscriber opens the Customer Portal (the emulator's hosted portal) from the billing page →
 * updates the card → views an invoice → changes plan → cancels → returns. The billing page open in another
 * tab shows each change as it happens (accountUpdated), without a reload.
 */
import type { Page } from 'playwright-core';
import { describeJourney, markPage, payOnCheckoutPage, text, waitForText } from './journey';

describeJourney('journey: customer portal', (journey) => {
  /** The portal's plan switcher: picks the option whose label names the plan and the monthly price. */
  async function switchPlan(portal: Page, planName: string): Promise<void> {
    const option = portal.locator('select[id^="price-"] option', { hasText: `${planName} — ` });
    const value = await option.filter({ hasText: '/ month' }).first().getAttribute('value');
    await portal.selectOption('select[id^="price-"]', value as string);
    await Promise.all([portal.waitForLoadState('load'), portal.click('button[id^="switch-"]')]);
  }

  it('updates the card, shows invoices, changes plan and cancels, each live on the billing page', async () => {
    const accountId = 'acct_journey_portal';
    const watching = await journey.newPage();
    await journey.signUp(watching, accountId);
    await Promise.all([watching.waitForURL(/\/checkout\/pay\/cs_/), watching.click('#checkout-starter')]);
    await payOnCheckoutPage(watching);
    await waitForText(watching, '#checkout-result', /subscribed to Starter/);
    await waitForText(watching, '#card', /Visa •••• 4242/);
    const notReloaded = await markPage(watching);

    // Another tab: Manage billing → the hosted portal.
    const portal = await journey.newPage();
    await journey.signUp(portal, accountId);
    await Promise.all([portal.waitForURL(/\/portal\/bps_/), portal.click('#portal')]);
    expect(await text(portal, '.subscription .status')).toBe('active');

    // 1. A new card.
    await portal.fill('#card', '5555 5555 5555 4444');
    await Promise.all([portal.waitForLoadState('load'), portal.click('#update-card')]);
    await waitForText(portal, '#current-card', /mastercard •••• 4444/);
    await waitForText(watching, '#card', /Mastercard •••• 4444/);

    // 2. The invoices: the portal lists them, and each opens as Stripe's hosted invoice.
    const invoiceLink = portal.locator('#invoices a').first();
    const number = (await invoiceLink.textContent())?.trim() as string;
    await Promise.all([portal.waitForURL(/\/invoice\/in_/), invoiceLink.click()]);
    expect(await portal.textContent('body')).toContain(number);
    await portal.goBack();
    expect(await text(watching, '#invoices tr:first-child')).toContain(number);

    // 3. Another plan.
    await switchPlan(portal, 'CODITECT Professional');
    await waitForText(portal, '.subscription h3', /Professional/);
    await waitForText(watching, '#plan-name', /^Professional$/);
    await waitForText(watching, '[data-feature="team_collaboration"]', /✓/);

    // 4. Cancel (at the period end, as the catalog configures the portal).
    await Promise.all([portal.waitForLoadState('load'), portal.click('button[id^="cancel-"]')]);
    await waitForText(portal, '.subscription', /cancels on/);
    await waitForText(watching, '#cancels', /you keep Professional until then/);
    expect(await notReloaded()).toBe(true);
    await journey.stack.flushWebhooks();
    expect(await journey.stored(accountId)).toMatchObject({ status: 'active', plan: 'professional' });
    await journey.screenshot(portal, 'portal-emulator-page');

    // Back to the billing page, which shows the same.
    await Promise.all([portal.waitForURL(journey.billingUrl), portal.click('#return')]);
    await portal.waitForSelector('body[data-live="true"]');
    expect(await text(portal, '#plan-name')).toBe('Professional');
    expect(await text(portal, '#card')).toBe('Mastercard •••• 4444');
    expect(await portal.locator('#resume').count()).toBe(1);
    await journey.screenshot(portal, 'portal');
  });
});
