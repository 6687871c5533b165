import { formatMoney } from '../../src/money';
import {
  dedupeKeyOf,
  formatDate,
  InvalidNotificationError,
  type NotificationMessageInput,
  parseNotificationMessage,
  renderNotification,
} from '../../src/services/notifications';

function render(message: NotificationMessageInput) {
  return renderNotification(parseNotificationMessage(message.kind, message.data));
}

describe('money from integer minor units, formatted only for display', () => {
  it.each([
    [1900, 'usd', '$19.00'],
    [250, 'usd', '$2.50'],
    [5, 'USD', '$0.05'],
    [0, 'usd', '$0.00'],
    [123456789, 'usd', '$1,234,567.89'],
    [1999, 'eur', '€19.99'],
    [500, 'jpy', '¥500'],
    [120000, 'JPY', '¥120,000'],
    [5000, 'krw', '₩5,000'],
    [1500, 'kwd', 'KWD 1.500'],
  ])('%d %s → %s', (amount, currency, expected) => {
    // Intl separates a currency code from the number with a no-break space.
    expect(formatMoney(amount, currency).replace(/\u00a0/g, ' ')).toBe(expected);
  });

  it('formats dates in UTC, whatever the process time zone', () => {
    expect(formatDate(new Date('2026-12-03T23:30:00Z'))).toBe('December 3, 2026');
    expect(formatDate(new Date('2027-01-01T00:00:00Z'))).toBe('January 1, 2027');
  });
});

describe('each kind renders its figures', () => {
  it('payment failed: amount due, invoice, plan, next retry date and the link to pay', () => {
    const mail = render({
      kind: 'payment_failed',
      data: {
        invoiceId: 'in_123',
        invoiceNumber: 'ABC-0007',
        amountDue: 1900,
        currency: 'usd',
        attemptCount: 2,
        nextPaymentAttemptAt: '2026-12-03T10:00:00Z',
        hostedInvoiceUrl: 'https://invoice.stripe.com/i/acct_1/test_abc',
        planName: 'Professional',
      },
    });
    expect(mail.subject).toBe('Payment failed: $19.00 due');
    expect(mail.text).toContain(
      'We could not collect the payment of $19.00 for invoice ABC-0007 for your Professional plan.',
    );
    expect(mail.text).toContain('We will try the payment again on December 3, 2026.');
    expect(mail.text).toContain('Pay the invoice: https://invoice.stripe.com/i/acct_1/test_abc');
    expect(mail.html).toContain('<a href="https://invoice.stripe.com/i/acct_1/test_abc">Pay the invoice</a>');
    expect(mail.html).toContain('$19.00');
  });

  it('payment failed without another retry says so, and works without optional fields', () => {
    const mail = render({
      kind: 'payment_failed',
      data: {
        invoiceId: 'in_9',
        amountDue: 250,
        currency: 'usd',
        attemptCount: 4,
        nextPaymentAttemptAt: null,
      },
    });
    expect(mail.subject).toBe('Payment failed: $2.50 due');
    expect(mail.text).toContain('for your invoice.');
    expect(mail.text).toContain('We will not try this payment again automatically');
    expect(mail.text).not.toContain('Pay the invoice');
  });

  it('trial ending: plan, end date, and the first charge (or that a card is missing)', () => {
    const withCard = render({
      kind: 'trial_will_end',
      data: {
        subscriptionId: 'sub_1',
        planName: 'Starter',
        trialEndsAt: new Date('2026-12-10T12:00:00Z'),
        hasPaymentMethod: true,
        amountAfterTrial: 1900,
        currency: 'usd',
      },
    });
    expect(withCard.subject).toBe('Your Starter trial ends on December 10, 2026');
    expect(withCard.text).toContain('Your first payment of $19.00 will be charged then.');

    const withoutCard = render({
      kind: 'trial_will_end',
      data: {
        subscriptionId: 'sub_1',
        planName: 'Starter',
        trialEndsAt: '2026-12-10T12:00:00Z',
        hasPaymentMethod: false,
      },
    });
    expect(withoutCard.text).toContain('No payment method is on file');
    expect(withoutCard.text).not.toContain('$');
  });

  it('subscription canceled: plan and end of access', () => {
    const mail = render({
      kind: 'subscription_canceled',
      data: { subscriptionId: 'sub_2', planName: 'Professional', endedAt: '2026-11-30T00:00:00Z' },
    });
    expect(mail.subject).toBe('Your Professional subscription has been canceled');
    expect(mail.text).toContain('access to its features ended on November 30, 2026');
  });

  it('usage thresholds: used and included figures, the period end, and what happens at 100 %', () => {
    const base = {
      metric: 'ai_requests',
      metricLabel: 'AI requests',
      included: 10000,
      periodStart: '2026-11-01T00:00:00Z',
      periodEnd: '2026-12-01T00:00:00Z',
      planName: 'Starter',
    };
    const eighty = render({
      kind: 'usage_threshold',
      data: { ...base, thresholdPercent: 80, used: 8012, overLimit: 'block' },
    });
    expect(eighty.subject).toBe('You have used 80% of your AI requests');
    expect(eighty.text).toContain(
      'You have used 8,012 of 10,000 AI requests (80%) included in your Starter plan',
    );
    expect(eighty.text).toContain('ends on December 1, 2026');

    const blocked = render({
      kind: 'usage_threshold',
      data: { ...base, thresholdPercent: 100, used: 10000, overLimit: 'block' },
    });
    expect(blocked.subject).toBe('You have used all 10,000 AI requests of your Starter plan');
    expect(blocked.text).toContain('are refused until the period ends');

    const billed = render({
      kind: 'usage_threshold',
      data: { ...base, thresholdPercent: 100, used: 10250, overLimit: 'bill_overage' },
    });
    expect(billed.text).toContain('(102%)');
    expect(billed.text).toContain('billed as overage');
  });

  it('payment to confirm: amount, invoice, plan and the link to confirm on', () => {
    const mail = render({
      kind: 'payment_action_required',
      data: {
        invoiceId: 'in_3ds',
        invoiceNumber: 'ABC-0009',
        amountDue: 4900,
        currency: 'usd',
        hostedInvoiceUrl: 'https://invoice.stripe.com/i/acct_1/test_3ds',
        planName: 'Professional',
      },
    });
    expect(mail.subject).toBe('Please confirm your payment of $49.00');
    expect(mail.text).toContain(
      'Your bank asks you to confirm the payment of $49.00 for invoice ABC-0009 for your Professional plan.',
    );
    expect(mail.text).toContain('Confirm the payment: https://invoice.stripe.com/i/acct_1/test_3ds');
  });

  it('duplicate cancelled: the refund, or that a trial cost nothing, and that the first one goes on', () => {
    const base = {
      subscriptionId: 'sub_dup',
      keptSubscriptionId: 'sub_kept',
      planName: 'Starter',
      currency: 'usd',
    };
    const refunded = render({
      kind: 'duplicate_subscription_canceled',
      data: { ...base, amountRefunded: 1900, wasTrialing: false },
    });
    expect(refunded.subject).toBe('We cancelled a second Starter subscription');
    expect(refunded.text).toContain('We refunded what it charged, $19.00, in full');
    expect(refunded.text).toContain('Your first subscription continues unchanged.');
    const trial = render({
      kind: 'duplicate_subscription_canceled',
      data: { ...base, amountRefunded: 0, wasTrialing: true },
    });
    expect(trial.text).toContain('still in its free trial, so nothing was charged');
    expect(trial.text).not.toContain('refunded');
  });

  it('disputes, for the admins: amount, reason, deadline, and how it ended', () => {
    const opened = render({
      kind: 'dispute_opened',
      data: {
        disputeId: 'dp_1',
        chargeId: 'ch_1',
        accountId: 'acct_9',
        invoiceId: 'in_9',
        amount: 4900,
        currency: 'usd',
        reason: 'fraudulent',
        status: 'needs_response',
        evidenceDueBy: '2026-12-20T00:00:00Z',
      },
    });
    expect(opened.subject).toBe('Dispute opened: $49.00 (fraudulent)');
    expect(opened.text).toContain('Evidence is due by December 20, 2026');
    expect(opened.text).toContain('account acct_9');
    expect(opened.text).toContain('The account keeps its subscription');
    const closed = render({
      kind: 'dispute_closed',
      data: {
        disputeId: 'dp_1',
        chargeId: 'ch_1',
        accountId: null,
        amount: 4900,
        currency: 'usd',
        reason: 'fraudulent',
        status: 'lost',
      },
    });
    expect(closed.subject).toBe('Dispute closed (lost): $49.00');
    expect(closed.text).toContain('account not one of ours');
  });

  it('low balance: what is available, the threshold, and where to buy credits; one mail per crossing', () => {
    const low = render({ kind: 'low_balance', data: { available: 1234, belowCredits: 5000, crossing: 3 } });
    expect(low.subject).toBe('Your credits are running low: 1,234 left');
    expect(low.text).toContain('1,234 credits available, below the 5,000 credits you are alerted at');
    expect(low.text).toContain('buy a credit pack on your billing page');
    expect(low.text).toContain('automatic top-up');
    const key = (crossing: number) =>
      dedupeKeyOf(
        'acct_1',
        parseNotificationMessage('low_balance', { available: 0, belowCredits: 1, crossing }),
      );
    expect(key(3)).toBe('low_balance:acct_1:3');
    expect(key(4)).not.toBe(key(3));
    expect(() =>
      parseNotificationMessage('low_balance', { available: 1, belowCredits: 0, crossing: 1 }),
    ).toThrow(InvalidNotificationError);
  });

  it('escapes what it puts into HTML', () => {
    const mail = render({
      kind: 'subscription_canceled',
      data: { subscriptionId: 'sub_3', planName: 'A <b>&</b> B', endedAt: '2026-11-30T00:00:00Z' },
    });
    expect(mail.html).toContain('A &lt;b&gt;&amp;&lt;/b&gt; B');
    expect(mail.html).not.toContain('<b>');
  });
});

describe('messages', () => {
  it('refuses data that does not fit its kind, and unknown kinds', () => {
    expect(() => parseNotificationMessage('payment_failed', { invoiceId: 'in_1', amountDue: 19.5 })).toThrow(
      InvalidNotificationError,
    );
    expect(() => parseNotificationMessage('newsletter', {})).toThrow(
      /unknown notification kind "newsletter"/,
    );
  });

  it('reads back what JSON made of it (dates as ISO strings)', () => {
    const input: NotificationMessageInput = {
      kind: 'trial_will_end',
      data: {
        subscriptionId: 'sub_1',
        planName: 'Starter',
        trialEndsAt: new Date('2026-12-10T12:00:00Z'),
        hasPaymentMethod: true,
      },
    };
    const stored = JSON.parse(JSON.stringify(parseNotificationMessage(input.kind, input.data).data));
    expect(render({ kind: 'trial_will_end', data: stored })).toEqual(render(input));
  });

  it('derives one dedupe key per fact', () => {
    const failed = (attemptCount: number) =>
      dedupeKeyOf(
        'acct_1',
        parseNotificationMessage('payment_failed', {
          invoiceId: 'in_7',
          amountDue: 100,
          currency: 'usd',
          attemptCount,
        }),
      );
    expect(failed(1)).toBe('payment_failed:in_7:1');
    expect(failed(2)).toBe('payment_failed:in_7:2');

    const usage = (thresholdPercent: number, periodStart: string) =>
      dedupeKeyOf(
        'acct_1',
        parseNotificationMessage('usage_threshold', {
          metric: 'ai_requests',
          metricLabel: 'AI requests',
          thresholdPercent,
          used: 1,
          included: 1,
          periodStart,
          periodEnd: '2026-12-01T00:00:00Z',
          planName: 'Starter',
          overLimit: 'block',
        }),
      );
    expect(usage(80, '2026-11-01T00:00:00Z')).toBe('usage_threshold:acct_1:ai_requests:1793491200:80');
    expect(usage(80, '2026-11-01T00:00:00.000+00:00')).toBe(usage(80, '2026-11-01T00:00:00Z'));
    expect(usage(100, '2026-11-01T00:00:00Z')).not.toBe(usage(80, '2026-11-01T00:00:00Z'));
    expect(usage(80, '2026-12-01T00:00:00Z')).not.toBe(usage(80, '2026-11-01T00:00:00Z'));

    // Admin mails: one per dispute and admin.
    const disputeMail = parseNotificationMessage('dispute_opened', {
      disputeId: 'dp_7',
      chargeId: 'ch_7',
      amount: 100,
      currency: 'usd',
      reason: 'general',
      status: 'needs_response',
    });
    expect(dedupeKeyOf('acct_1', disputeMail, 'Ops@Coditect.ai')).toBe('dispute_opened:dp_7:ops@coditect.ai');
    expect(dedupeKeyOf('acct_1', disputeMail, 'cfo@coditect.ai')).not.toBe(
      dedupeKeyOf('acct_1', disputeMail, 'ops@coditect.ai'),
    );
    const confirm = parseNotificationMessage('payment_action_required', {
      invoiceId: 'in_8',
      amountDue: 100,
      currency: 'usd',
    });
    expect(dedupeKeyOf('acct_1', confirm)).toBe('payment_action_required:in_8');
  });
});
