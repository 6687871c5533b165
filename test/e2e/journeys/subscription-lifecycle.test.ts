/**
 * Journey: a trial through Checkout → the trial ends and is charged → upgrade with the prorated amount shown
 * on the page and then charged → cancel at the period end → access until the period end (the emulator's clock
 * moved) → back to free. One tab, never reloaded: every change after the first load arrives live.
 */
import { DAY, describeJourney, markPage, payOnCheckoutPage, text, waitForText } from './journey';

/** "$12.34" → 1234 */
function cents(amount: string): number {
  const match = /^-?\$([\d,]+)\.(\d\d)$/.exec(amount.trim());
  if (!match) throw new Error(`not an amount: ${amount}`);
  return Number(match[1].replace(/,/g, '')) * 100 + Number(match[2]);
}

describeJourney('journey: subscription lifecycle', { timeoutMs: 120_000 }, (journey) => {
  it('trial → upgrade with proration → cancel at period end → free', async () => {
    const accountId = 'acct_journey_lifecycle';
    const { stack } = journey;
    const page = await journey.newPage();
    await journey.signUp(page, accountId);

    // Trial: Checkout collects the card and charges nothing today.
    await Promise.all([page.waitForURL(/\/checkout\/pay\/cs_/), page.click('#trial-starter')]);
    await payOnCheckoutPage(page);
    await waitForText(page, '#checkout-result', /You are subscribed to Starter \(trialing\)/);
    await waitForText(page, '#trial', /Trial: 14 days left/);
    expect(await text(page, '#plan-status')).toBe('trialing');
    const notReloaded = await markPage(page);

    // The trial ends: the card is charged $19.00 and the page follows.
    await stack.advanceClock(15 * DAY);
    await waitForText(page, '#plan-status', /^active$/);
    await waitForText(page, '#invoices [data-status="paid"]', /\$19\.00/);
    expect(await page.locator('#trial').count()).toBe(0);

    // Upgrade: the page shows what it charges now (prorated), and that is what is charged.
    await page.click('#change-professional');
    await waitForText(page, '#preview .due', /Due now/);
    const shown = cents(await text(page, '#preview-amount'));
    // A month of Professional minus a month of Starter ($30.00) for almost the whole period.
    expect(shown).toBeGreaterThan(2500);
    expect(shown).toBeLessThan(3000);
    expect(await text(page, '#preview')).toMatch(/Remaining time on/i);
    await journey.screenshot(page, 'subscription-lifecycle-upgrade-preview');
    await page.click('#confirm-change');
    await waitForText(page, '#plan-name', /^Professional$/);
    expect(await page.locator('#preview').count()).toBe(0); // the preview is gone once the change is made
    const charged = `$${(shown / 100).toFixed(2)}`;
    await waitForText(page, '#invoices [data-status="paid"]', new RegExp(charged.replace('$', '\\$')));
    await stack.flushWebhooks();
    expect(await journey.stored(accountId)).toMatchObject({ status: 'active', plan: 'professional' });
    const invoices = await stack.stripe.invoices.list({ limit: 1 });
    expect(invoices.data[0]).toMatchObject({ status: 'paid', amount_paid: shown });

    // Cancel at the period end: access continues until then.
    await page.click('#cancel');
    await waitForText(page, '#cancels', /Your plan ends on .*; you keep Professional until then/);
    await stack.advanceClock(10 * DAY);
    await stack.flushWebhooks();
    expect(await text(page, '#plan-name')).toBe('Professional');
    expect(await journey.stored(accountId)).toMatchObject({ status: 'active', plan: 'professional' });
    expect((await journey.stored(accountId)).features).toContain('team_collaboration');

    // The period ends: Stripe ends the subscription and the account is back on Free, live.
    await stack.advanceClock(25 * DAY);
    await waitForText(page, '#plan-name', /^Free$/, 20_000);
    await waitForText(page, '[data-feature="team_collaboration"]', /✗/);
    await stack.flushWebhooks();
    const stored = await journey.stored(accountId);
    expect(stored.status).toBe('canceled');
    expect(stored.features).not.toContain('team_collaboration');
    expect(await page.locator('#checkout-starter').count()).toBe(1); // free again: Checkout is offered
    expect(await notReloaded()).toBe(true);

    await journey.screenshot(page, 'subscription-lifecycle');
  });
});
