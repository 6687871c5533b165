/**
 * Journey: the promotion code box of the billing page. A code that does not apply is refused on our page with
 * its reason (no Checkout made); LAUNCH20 goes with Checkout, whose hosted page charges $15.20 for Starter
 * ($19.00 − 20 %); once subscribed, the same box applies a code to the live subscription and says what it gives.
 */
import { describeJourney, payOnCheckoutPage, waitForText } from './journey';

describeJourney('journey: promotion code', (journey) => {
  it('refuses a wrong code on our page, sends LAUNCH20 with Checkout, and applies it to the subscription', async () => {
    const accountId = 'acct_journey_promotion';
    const page = await journey.newPage();
    await journey.signUp(page, accountId);
    await page.waitForSelector('body[data-live="true"]');

    await page.fill('#promotion-code', 'NOSUCHCODE');
    await page.click('#checkout-starter');
    await waitForText(page, '#error', /No promotion code has this text \(NOSUCHCODE\)/);
    expect(page.url()).not.toMatch(/\/checkout\/pay\//);

    await page.fill('#promotion-code', 'launch20');
    await Promise.all([page.waitForURL(/\/checkout\/pay\/cs_/), page.click('#checkout-starter')]);
    expect(await page.textContent('body')).toContain('$15.20');
    await payOnCheckoutPage(page);
    await page.waitForURL(/\/billing\/($|\?)/);
    await waitForText(page, '#checkout-result', /You are subscribed to Starter/);
    await journey.stack.flushWebhooks();

    // The code it already has: applying it again changes nothing and says what it gives.
    await page.waitForSelector('#apply-promotion-code');
    await page.fill('#promotion-code', 'LAUNCH20');
    await page.click('#apply-promotion-code');
    await waitForText(page, '#promotion-notice', /^LAUNCH20: 20 % off until .+, from the next invoice$/);
  }, 120_000);
});
