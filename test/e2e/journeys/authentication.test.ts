/**
 * Journeys: a payment the customer's bank asks to approve (3-D Secure). The subscription is made through the API
 * with a card the bank challenges (as a frontend with its own card form would); the billing page shows the
 * authentication step, the customer approves (or fails) on the bank's page in another tab, and the billing page
 * learns the outcome live. A renewal whose bank asks shows the same step while the plan is kept in its grace period;
 * an upgrade whose bank asks keeps the plan until approved.
 */
import type { Page } from 'playwright-core';
import { DAY, describeJourney, markPage, text, waitForText } from './journey';

const HOUR = 3600;

describeJourney('journey: payment authentication (3-D Secure)', { timeoutMs: 120_000 }, (journey) => {
  /** Subscribes through the API with a card whose bank asks, and waits for the page to show the step. */
  async function subscribeNeedingApproval(page: Page, accountId: string): Promise<void> {
    const gql = await journey.stack.as(accountId);
    const created = await gql<{ createSubscription: { status: string } }>(
      'mutation { createSubscription(input: { planKey: "starter", paymentMethodId: "pm_card_authenticationRequired" }) { status } }',
    );
    expect(created.data?.createSubscription.status).toBe('INCOMPLETE');
    await waitForText(page, '#authenticate-notice', /approve the payment of \$19\.00/);
  }

  /** Clicks the step, answers the bank's challenge in the tab it opens; returns that tab's final text. */
  async function answerChallenge(page: Page, answer: '#complete' | '#fail'): Promise<string> {
    const [bank] = await Promise.all([page.context().waitForEvent('page'), page.click('#authenticate')]);
    await bank.waitForSelector('#pay');
    await Promise.all([bank.waitForURL(/\/authenticate\/pi_/), bank.click('#pay')]);
    await Promise.all([bank.waitForLoadState('load'), bank.click(answer)]);
    const status = await text(bank, '#status');
    await bank.close();
    return status;
  }

  it('a 3-D Secure subscription approved: free until approved, then Starter, live', async () => {
    const accountId = 'acct_journey_sca_ok';
    const page = await journey.newPage();
    await journey.signUp(page, accountId);
    const notReloaded = await markPage(page);
    await subscribeNeedingApproval(page, accountId);
    expect(await text(page, '#plan-name')).toBe('Free');

    expect(await answerChallenge(page, '#complete')).toBe('paid');
    await journey.stack.flushWebhooks();
    await waitForText(page, '#plan-name', /^Starter$/);
    await page.locator('#authenticate-notice').waitFor({ state: 'detached' });
    expect(await journey.stored(accountId)).toMatchObject({ status: 'active', plan: 'starter' });
    expect(await notReloaded()).toBe(true);
  });

  it('a 3-D Secure subscription failed: still free, the step stays to try again, gone when it expires', async () => {
    const accountId = 'acct_journey_sca_failed';
    const page = await journey.newPage();
    await journey.signUp(page, accountId);
    await subscribeNeedingApproval(page, accountId);

    expect(await answerChallenge(page, '#fail')).toBe('open');
    await journey.stack.flushWebhooks();
    expect(await text(page, '#plan-name')).toBe('Free');
    expect(await text(page, '#authenticate-notice')).toMatch(/Approve it by/);

    // Unanswered for 23 hours, Stripe expires the subscription: the account is where it was.
    await journey.timePasses(23 * HOUR + 60);
    await page.locator('#authenticate-notice').waitFor({ state: 'detached' });
    expect(await text(page, '#plan-name')).toBe('Free');
    expect(await journey.stored(accountId)).toMatchObject({ status: 'incomplete_expired' });
  });

  it('a renewal needing authentication: past due with the plan kept, approved from the page', async () => {
    const accountId = 'acct_journey_sca_renewal';
    const page = await journey.newPage();
    await journey.signUp(page, accountId);
    await subscribeNeedingApproval(page, accountId);
    await answerChallenge(page, '#complete');
    await journey.stack.flushWebhooks();
    await waitForText(page, '#plan-name', /^Starter$/);

    // A month and the hour Stripe keeps the renewal a draft: the off-session charge needs the bank's approval.
    await journey.timePasses(31 * DAY + 2 * HOUR);
    await waitForText(page, '#authenticate-notice', /approve the renewal payment of \$19\.00/);
    await waitForText(page, '#plan-status', /past due/);
    expect(await text(page, '#plan-name')).toBe('Starter');

    expect(await answerChallenge(page, '#complete')).toBe('paid');
    await journey.stack.flushWebhooks();
    await page.locator('#authenticate-notice').waitFor({ state: 'detached' });
    await waitForText(page, '#plan-status', /active/);
    await journey.screenshot(page, 'authentication-renewal-approved');
  });

  it('an upgrade needing authentication: Starter kept until approved on the bank page, then Professional, live', async () => {
    const accountId = 'acct_journey_sca_upgrade';
    const page = await journey.newPage();
    await journey.signUp(page, accountId);
    await subscribeNeedingApproval(page, accountId);
    await answerChallenge(page, '#complete');
    await journey.stack.flushWebhooks();
    await waitForText(page, '#plan-name', /^Starter$/);
    const notReloaded = await markPage(page);

    // The same card asks again for the upgrade's prorated charge: the change waits for it.
    const gql = await journey.stack.as(accountId);
    const upgraded = await gql<{ changeSubscription: { plan: { key: string } } }>(
      'mutation { changeSubscription(input: { planKey: "professional", applyAt: IMMEDIATELY }) { plan { key } } }',
    );
    expect(upgraded.data?.changeSubscription.plan.key).toBe('starter');
    await waitForText(page, '#authenticate-notice', /for your upgrade to Professional\. Approve it by/);
    expect(await text(page, '#plan-name')).toBe('Starter');

    expect(await answerChallenge(page, '#complete')).toBe('paid');
    await journey.stack.flushWebhooks();
    await waitForText(page, '#plan-name', /^Professional$/);
    await page.locator('#authenticate-notice').waitFor({ state: 'detached' });
    expect(await journey.stored(accountId)).toMatchObject({ status: 'active', plan: 'professional' });
    expect(await notReloaded()).toBe(true);
    await journey.screenshot(page, 'authentication-upgrade-approved');
  });
});
