/**
 * Journey: the card on file starts failing → the renewal is declined → `invoice.payment_failed` is processed →
 * the customer gets a mail → the grace period keeps the paid plan while Stripe retries → once the grace period
 * is over the reconciler's sweep moves the account to free. The billing page shows each step live.
 *
 * Time: Stripe's renewal follows the emulator's clock (`advanceClock`), but the grace period is measured by the
 * service's own clock, from when it first saw the subscription past due. So for the week of retries the
 * journey moves the wall clock of the whole process, the service and the emulator alike (jest fakes `Date`
 * only, and it keeps ticking), then lets the emulator run what is due: what a week passing does in production.
 */
import { SmtpInbox } from '../../support/smtp-inbox';
import { waitUntil } from '../../support/wait';
import { DAY, describeJourney, markPage, payOnCheckoutPage, text, waitForText } from './journey';

const inbox = new SmtpInbox();
const HOUR = 3600;

describeJourney(
  'journey: payment failure',
  {
    timeoutMs: 120_000,
    needs: {
      start: async () => ({
        SMTP_URL: await inbox.start(),
        MAIL_WORKER_INTERVAL_MS: '100',
        // The periodic job does the grace sweep here, as in production (every 5 min there).
        RECONCILE_INTERVAL_MS: '300',
      }),
      stop: () => inbox.stop(),
    },
  },
  (journey) => {
    it('keeps access during the grace period while Stripe retries, then falls back to free', async () => {
      const accountId = 'acct_journey_failure';
      const { stack } = journey;
      const page = await journey.newPage();
      await journey.signUp(page, accountId);
      await Promise.all([page.waitForURL(/\/checkout\/pay\/cs_/), page.click('#checkout-starter')]);
      await payOnCheckoutPage(page);
      await waitForText(page, '#checkout-result', /subscribed to Starter \(active\)/);

      // The card on file becomes one whose charges fail (set in the portal, as a person would).
      await Promise.all([page.waitForURL(/\/portal\/bps_/), page.click('#portal')]);
      await page.fill('#card', '4000 0000 0000 0341');
      await Promise.all([page.waitForLoadState('load'), page.click('#update-card')]);
      await Promise.all([page.waitForURL(journey.billingUrl), page.click('#return')]);
      await page.waitForSelector('body[data-live="true"]');
      await waitForText(page, '#card', /Visa •••• 0341/);
      const notReloaded = await markPage(page);

      // The renewal a month later is declined: past due, the plan kept, a mail sent. Stripe keeps a renewal a
      // draft for an hour (the finalization grace period) before charging it: a month and an hour.
      await stack.advanceClock(31 * DAY + HOUR);
      await stack.flushWebhooks();
      await waitForText(page, '#plan-status', /past due/);
      await waitForText(page, '#past-due', /You keep Starter for a short grace period/);
      expect(await text(page, '#plan-name')).toBe('Starter');
      expect(await page.locator('[data-feature="api_access"]').getAttribute('data-enabled')).toBe('true');
      await waitForText(page, '#invoices [data-status="open"]', /\$19\.00/);
      await waitUntil(
        () => inbox.mails.some((mail) => /payment/i.test(mail.subject)),
        'the payment-failed mail arrives',
        10_000,
      );
      const mail = inbox.mails.find((candidate) => /payment/i.test(candidate.subject));
      expect(mail?.to).toBe(`${accountId}@example.com`);
      expect(mail?.text).toMatch(/\$19\.00/);

      // Stripe's clock moves and the service's follows it (`timePasses`): the grace period goes by the service's clock.
      // Stripe retries on days 1 and 3, and fails again: still within the grace period, still Starter.
      await journey.timePasses(3 * DAY);
      const [invoice] = (await stack.stripe.invoices.list({ status: 'open', limit: 1 })).data;
      expect(invoice.attempt_count).toBeGreaterThanOrEqual(3);
      expect(await journey.stored(accountId)).toMatchObject({ status: 'past_due', plan: 'starter' });
      expect((await journey.stored(accountId)).features).toContain('api_access');
      expect(await text(page, '#plan-name')).toBe('Starter');

      // Day 8: the grace period (7 days) is over; the reconciler's sweep moves the account to free, live.
      await journey.timePasses(5 * DAY);
      await waitForText(page, '#plan-name', /^Free$/, 20_000);
      await waitForText(page, '#past-due', /grace period is over: you are on Free/);
      await waitForText(page, '[data-feature="api_access"]', /✗/);
      expect((await journey.stored(accountId)).features).not.toContain('api_access');
      expect(await journey.stored(accountId)).toMatchObject({ status: 'past_due' });
      expect(await notReloaded()).toBe(true);

      await journey.screenshot(page, 'payment-failure');
    });
  },
);
