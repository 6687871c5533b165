import { Subscription } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { SmtpInbox } from '../support/smtp-inbox';
import { waitUntil } from '../support/wait';

const DAY = 24 * 3600;

/**
 * Checklist 6.2.3 "email notifications": a renewal with a failing card makes Stripe send
 * `invoice.payment_failed`; the webhook stores it, the subscription falls past due (keeping its plan during the
 * grace period), and the customer receives a mail on a real SMTP server, exactly once.
 */
describe('mails caused by webhooks', () => {
  let stack: BillingStack;
  const inbox = new SmtpInbox();

  beforeAll(async () => {
    const smtpUrl = await inbox.start();
    stack = await startBillingStack(
      { SMTP_URL: smtpUrl, MAIL_WORKER_INTERVAL_MS: '100' },
      { webhooks: true },
    );
    await fetch(`${stack.emulator.url}/_emulator/webhooks/mode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ retry_schedule_ms: [200, 400, 800, 1600], twice: true }),
    });
  });
  afterAll(async () => {
    await stack.stop();
    await inbox.stop();
  });

  it('mails the customer once when a renewal payment fails, and keeps the plan during the grace period', async () => {
    const gql = await stack.as('acct_failing');
    const created = await gql<{ createSubscription: { id: string; status: string } }>(
      'mutation { createSubscription(input: { planKey: "starter", withTrial: true, paymentMethodId: "pm_card_chargeCustomerFail" }) { id status } }',
    );
    expect(created.data?.createSubscription.status).toBe('TRIALING');
    await stack.flushWebhooks();

    await stack.advanceClock(15 * DAY);
    await stack.flushWebhooks();

    const em = stack.app.orm.em.fork();
    const subscription = await em.findOneOrFail(Subscription, { accountId: 'acct_failing' });
    expect(subscription.status).toBe('past_due');
    expect(subscription.pastDueSince).toBeInstanceOf(Date);
    const viewer = await gql<{ viewer: { plan: { key: string }; subscription: { status: string } } }>(
      '{ viewer { plan { key } subscription { status } } }',
    );
    expect(viewer.data?.viewer).toEqual({ plan: { key: 'starter' }, subscription: { status: 'PAST_DUE' } });

    await waitUntil(
      () => inbox.mails.some((mail) => /payment/i.test(mail.subject)),
      'the payment-failed mail arrives',
      10_000,
    );
    const mail = inbox.mails.find((candidate) => /payment/i.test(candidate.subject));
    expect(mail?.to).toBe('acct_failing@example.com');
    expect(mail?.text).toMatch(/\$19\.00/);
    // Delivered twice by the emulator, processed once: still one mail.
    await new Promise((done) => setTimeout(done, 500));
    expect(inbox.mails.filter((candidate) => /payment/i.test(candidate.subject))).toHaveLength(1);
  });
});
