import type { AddressInfo } from 'node:net';
import { MikroORM } from '@mikro-orm/postgresql';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { ormOptions } from '../../src/database/orm-options';
import { Notification } from '../../src/entities';
import { loadPlanCatalog } from '../../src/services/plans/plan-catalog';
import type { BillingNotifications } from '../../src/webhooks/billing-notifications';
import type { Logger } from '../../src/logging/logger';
import {
  BillingMails,
  createMailTransport,
  LogTransport,
  MailWorker,
  type MailWorkerOptions,
  type MailTransport,
  type NotificationRequest,
  Notifier,
  SmtpTransport,
} from '../../src/services/notifications';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { createCustomer, createSubscription } from '../support/factories';
import { waitUntil } from '../support/wait';

const FROM = 'CODITECT Billing <billing@coditect.ai>';

/** A real SMTP server on a random port that parses what it receives and can be told to refuse or stall. */
class TestSmtpServer {
  readonly received: ParsedMail[] = [];
  /** When each DATA transfer ended (accepted or refused), in ms. */
  readonly attempts: number[] = [];
  /** How many DATA transfers have begun. */
  started = 0;
  /** Refuse the next n messages with `rejectCode`; -1 refuses every one. */
  rejectNext = 0;
  rejectCode = 451;
  /** Hold each message this long before answering. */
  delayMs = 0;
  private readonly server: SMTPServer;
  url = '';

  constructor() {
    this.server = new SMTPServer({
      secure: false,
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, _session, callback) => {
        this.started++;
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          setTimeout(() => {
            this.attempts.push(Date.now());
            if (this.rejectNext !== 0) {
              if (this.rejectNext > 0) this.rejectNext--;
              callback(
                Object.assign(new Error('Mailbox busy, try again'), { responseCode: this.rejectCode }),
              );
              return;
            }
            simpleParser(Buffer.concat(chunks)).then(
              (mail) => {
                this.received.push(mail);
                callback();
              },
              (error: Error) => callback(error),
            );
          }, this.delayMs);
        });
      },
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `smtp://127.0.0.1:${(this.server.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.received.length = 0;
    this.attempts.length = 0;
    this.started = 0;
    this.rejectNext = 0;
    this.rejectCode = 451;
    this.delayMs = 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface LogLine {
  level: string;
  details: Record<string, unknown>;
  message: string;
}

function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (details: object, message: string): void => {
      lines.push({ level, details: { ...details }, message });
    };
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

describe('notification mails: outbox, worker and a real SMTP server', () => {
  let database: TestDatabase;
  let orm: MikroORM;
  let smtp: TestSmtpServer;
  const notifier = new Notifier();

  beforeAll(async () => {
    smtp = new TestSmtpServer();
    [database] = await Promise.all([createTestDatabase(), smtp.listen()]);
    orm = await MikroORM.init(ormOptions({ url: database.url, poolMax: 10 }));
  });

  afterAll(async () => {
    await orm?.close();
    await smtp?.close();
    await database?.drop();
  });

  beforeEach(async () => {
    smtp.reset();
    await orm.em.fork().getConnection().execute('delete from "notification"');
  });

  function paymentFailed(
    invoiceId: string,
    overrides: Partial<NotificationRequest> = {},
  ): NotificationRequest {
    return {
      accountId: 'acct_1',
      recipient: 'ann@acme.io',
      kind: 'payment_failed',
      data: {
        invoiceId,
        invoiceNumber: 'INV-0042',
        amountDue: 1900,
        currency: 'usd',
        attemptCount: 1,
        nextPaymentAttemptAt: '2026-12-03T10:00:00Z',
        hostedInvoiceUrl: null,
        planName: 'Professional',
      },
      ...overrides,
    } as NotificationRequest;
  }

  function enqueue(...requests: NotificationRequest[]) {
    return orm.em.fork().transactional(async (em) => {
      const results = [];
      for (const request of requests) results.push(await notifier.enqueue(em, request));
      return results;
    });
  }

  function worker(options: Partial<MailWorkerOptions> = {}): MailWorker {
    return new MailWorker({
      em: orm.em,
      transport: new SmtpTransport(smtp.url),
      logger: recordingLogger(),
      from: FROM,
      intervalMs: 20,
      retryBaseMs: 50,
      ...options,
    });
  }

  function rows(): Promise<Notification[]> {
    return orm.em.fork().find(Notification, {}, { orderBy: { createdAt: 'asc', dedupeKey: 'asc' } });
  }

  it('writes nothing, and sends nothing, when the caller’s transaction rolls back', async () => {
    await expect(
      orm.em.fork().transactional(async (em) => {
        expect(await notifier.enqueue(em, paymentFailed('in_rollback'))).toBe('queued');
        throw new Error('the webhook handler failed after enqueueing');
      }),
    ).rejects.toThrow('the webhook handler failed');
    expect(await rows()).toHaveLength(0);
    expect(await worker().runOnce()).toBe(0);
    expect(smtp.attempts).toHaveLength(0);
  });

  it('refuses to enqueue outside a transaction', async () => {
    await expect(notifier.enqueue(orm.em.fork(), paymentFailed('in_no_tx'))).rejects.toThrow(
      /inside the caller's transaction/,
    );
    expect(await rows()).toHaveLength(0);
  });

  it('queues one mail for one fact, however often it is enqueued', async () => {
    expect(await enqueue(paymentFailed('in_dup'), paymentFailed('in_dup'))).toEqual(['queued', 'duplicate']);
    expect(await enqueue(paymentFailed('in_dup'))).toEqual(['duplicate']);
    // Two instances handling the same webhook at the same moment.
    expect(
      (await Promise.all([enqueue(paymentFailed('in_dup')), enqueue(paymentFailed('in_dup'))])).flat(),
    ).toEqual(['duplicate', 'duplicate']);
    expect(await rows()).toHaveLength(1);

    const mailer = worker();
    expect(await mailer.runOnce()).toBe(1);
    expect(await mailer.runOnce()).toBe(0);
    expect(smtp.received).toHaveLength(1);
  });

  it('skips an account without an email', async () => {
    expect(await enqueue(paymentFailed('in_nobody', { recipient: null }))).toEqual(['no_recipient']);
    expect(await rows()).toHaveLength(0);
  });

  it('sends the mail with its recipient, subject and figures, and marks it sent', async () => {
    await enqueue(paymentFailed('in_send'));
    const mailer = worker();
    expect(await mailer.runOnce()).toBe(1);

    expect(smtp.received).toHaveLength(1);
    const mail = smtp.received[0];
    expect(mail.to).toMatchObject({ text: 'ann@acme.io' });
    expect(mail.from?.text).toBe('"CODITECT Billing" <billing@coditect.ai>');
    expect(mail.subject).toBe('Payment failed: $19.00 due');
    expect(mail.text).toContain(
      'We could not collect the payment of $19.00 for invoice INV-0042 for your Professional plan.',
    );
    expect(mail.text).toContain('December 3, 2026');
    expect(mail.html).toContain('$19.00');
    expect(mail.messageId).toBe(mailer.messageIdOf('payment_failed:in_send:1'));
    expect(mail.messageId).toMatch(/^<notification\.[0-9a-f]{40}@coditect\.ai>$/);
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');

    const [row] = await rows();
    expect(row).toMatchObject({
      status: 'sent',
      attempts: 1,
      lastError: null,
      recipient: 'ann@acme.io',
      kind: 'payment_failed',
    });
    expect(row.sentAt).toBeInstanceOf(Date);
    expect(row.data).toMatchObject({
      amountDue: 1900,
      currency: 'USD',
      nextPaymentAttemptAt: '2026-12-03T10:00:00.000Z',
    });
  });

  it('retries a refused mail with exponential back-off until the server takes it', async () => {
    smtp.rejectNext = 2;
    await enqueue(paymentFailed('in_retry'));
    const logger = recordingLogger();
    const mailer = worker({ logger, retryBaseMs: 200, maxAttempts: 5 });
    mailer.start();
    try {
      await waitUntil(() => smtp.received.length === 1, 'the third attempt is accepted', 10_000);
    } finally {
      await mailer.stop();
    }

    expect(smtp.attempts).toHaveLength(3);
    // Back-off: 200 ms after the first failure, 400 ms after the second (a little slack for clock rounding).
    expect(smtp.attempts[1] - smtp.attempts[0]).toBeGreaterThanOrEqual(190);
    expect(smtp.attempts[2] - smtp.attempts[1]).toBeGreaterThanOrEqual(390);
    const retries = logger.lines.filter((line) => line.message === 'mail failed; will retry');
    expect(retries.map((line) => line.details.retryInMs)).toEqual([200, 400]);
    expect(String(retries[0].details.error)).toContain('451');

    const [row] = await rows();
    expect(row).toMatchObject({ status: 'sent', attempts: 3, lastError: null });
  });

  it('gives up after the maximum number of attempts, as failed with the last error', async () => {
    smtp.rejectNext = -1;
    await enqueue(paymentFailed('in_fail'));
    const mailer = worker({ retryBaseMs: 10, maxAttempts: 3 });
    await waitUntil(
      async () => {
        await mailer.runOnce();
        return (await rows())[0].status === 'failed';
      },
      'the mail is given up',
      10_000,
    );
    const [row] = await rows();
    expect(row).toMatchObject({ status: 'failed', attempts: 3, sentAt: null });
    expect(row.lastError).toMatch(/451/);
    expect(smtp.attempts).toHaveLength(3);

    await new Promise((done) => setTimeout(done, 50));
    expect(await mailer.runOnce()).toBe(0);
    expect(smtp.attempts).toHaveLength(3);
    expect(smtp.received).toHaveLength(0);
  });

  it('fails at once when the server refuses the mail for good (5xx)', async () => {
    smtp.rejectNext = -1;
    smtp.rejectCode = 550;
    await enqueue(paymentFailed('in_550'));
    expect(await worker({ maxAttempts: 5 }).runOnce()).toBe(1);
    const [row] = await rows();
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(row.lastError).toMatch(/550/);
    expect(smtp.attempts).toHaveLength(1);
  });

  it('two workers running at once send each of 50 mails exactly once', async () => {
    await enqueue(...Array.from({ length: 50 }, (_, index) => paymentFailed(`in_many_${index}`)));
    smtp.delayMs = 5;
    const [first, second] = [worker(), worker()];
    const handled = await Promise.all([first.runOnce(), second.runOnce()]);

    expect(handled[0] + handled[1]).toBe(50);
    expect(handled[0]).toBeGreaterThan(0);
    expect(handled[1]).toBeGreaterThan(0);
    expect(smtp.attempts).toHaveLength(50);
    const ids = smtp.received.map((mail) => mail.messageId);
    expect(new Set(ids).size).toBe(50);
    expect(new Set(ids)).toEqual(
      new Set(
        Array.from({ length: 50 }, (_, index) => first.messageIdOf(`payment_failed:in_many_${index}:1`)),
      ),
    );
    const all = await rows();
    expect(all.filter((row) => row.status === 'sent' && row.attempts === 1)).toHaveLength(50);
  });

  it('sends a mail left `sending` by a crashed worker once its lease has ended, and not before', async () => {
    await enqueue(paymentFailed('in_crash'));
    // A worker that claims the mail and then hangs mid-send, as if its process had died.
    let crash: (error: Error) => void = () => undefined;
    const hanging: MailTransport = {
      name: 'hanging',
      send: () =>
        new Promise<void>((_, reject) => {
          crash = reject;
        }),
      close: async () => undefined,
    };
    const crashed = worker({ transport: hanging, leaseMs: 1500 });
    const crashedRun = crashed.runOnce();
    await waitUntil(async () => (await rows())[0]?.status === 'sending', 'the first worker claims the mail');

    // After a restart: while the lease lasts the mail is left alone; then it is sent.
    const restarted = worker({ leaseMs: 1500 });
    expect(await restarted.runOnce()).toBe(0);
    expect(smtp.attempts).toHaveLength(0);
    await waitUntil(
      async () => (await restarted.runOnce()) === 1,
      'the lease ends and the mail is sent',
      5000,
    );
    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0].messageId).toBe(restarted.messageIdOf('payment_failed:in_crash:1'));
    expect((await rows())[0]).toMatchObject({ status: 'sent', attempts: 2 });

    // The first worker's late failure must not undo what the second recorded.
    crash(new Error('connection reset'));
    expect(await crashedRun).toBe(1);
    expect((await rows())[0]).toMatchObject({ status: 'sent', attempts: 2 });
  });

  it('gives up a mail whose worker died mid-send on every attempt', async () => {
    await enqueue(paymentFailed('in_poison'));
    await orm.em
      .fork()
      .getConnection()
      .execute(
        `update "notification" set "status" = 'sending', "attempts" = 3, "next_attempt_at" = now() - interval '1 second'`,
      );
    expect(await worker({ maxAttempts: 3 }).runOnce()).toBe(0);
    const [row] = await rows();
    expect(row.status).toBe('failed');
    expect(row.lastError).toMatch(/abandoned/);
    expect(smtp.attempts).toHaveLength(0);
  });

  it('stops gracefully: finishes the mail in flight and claims no other', async () => {
    await enqueue(paymentFailed('in_stop_1'), paymentFailed('in_stop_2'));
    smtp.delayMs = 300;
    const mailer = worker();
    mailer.start();
    await waitUntil(() => smtp.started === 1, 'the first mail is being transferred');
    await mailer.stop();

    expect(smtp.received).toHaveLength(1);
    const statuses = (await rows()).map((row) => row.status).sort();
    expect(statuses).toEqual(['pending', 'sent']);
  });

  it('a started worker sends what is enqueued while it polls', async () => {
    const mailer = worker();
    mailer.start();
    try {
      await enqueue(paymentFailed('in_polled'));
      await waitUntil(() => smtp.received.length === 1, 'the polling worker sends the mail');
    } finally {
      await mailer.stop();
    }
    expect((await rows())[0].status).toBe('sent');
  });
});

describe('mail transports', () => {
  it('uses SMTP when SMTP_URL is set, else logs each mail without its body', async () => {
    const logger = recordingLogger();
    expect(
      createMailTransport(
        {
          isProduction: false,
          mail: { smtpUrl: 'smtp://127.0.0.1:2525', from: FROM, workerIntervalMs: 1000 },
        },
        logger,
      ),
    ).toBeInstanceOf(SmtpTransport);

    const transport = createMailTransport(
      { isProduction: true, mail: { smtpUrl: null, from: FROM, workerIntervalMs: 1000 } },
      logger,
    );
    expect(transport).toBeInstanceOf(LogTransport);
    expect(logger.lines.map((line) => line.level)).toEqual(['warn']);

    await transport.send({
      from: FROM,
      to: 'ann@acme.io',
      subject: 'Payment failed: $19.00 due',
      text: 'SECRET BODY',
      html: '<p>SECRET BODY</p>',
      messageId: '<x@coditect.ai>',
      headers: {},
    });
    const line = logger.lines[1];
    expect(line.details).toEqual({
      mail: { to: 'ann@acme.io', subject: 'Payment failed: $19.00 due', messageId: '<x@coditect.ai>' },
    });
    expect(JSON.stringify(line)).not.toContain('SECRET BODY');
    await transport.close();
  });

  it('reports an unreachable SMTP server as a transient failure', async () => {
    const transport = new SmtpTransport('smtp://127.0.0.1:1');
    await expect(
      transport.send({
        from: FROM,
        to: 'a@b.io',
        subject: 's',
        text: 't',
        html: 'h',
        messageId: '<m@b.io>',
        headers: {},
      }),
    ).rejects.toMatchObject({ name: 'MailDeliveryError', permanent: false });
    await transport.close();
  });
});

describe('BillingMails: the mails webhooks cause, from Stripe objects', () => {
  let database: TestDatabase;
  let orm: MikroORM;
  // Fits the webhook layer's interface as it is.
  const mails = new BillingMails(
    new Notifier(),
    loadPlanCatalog(),
    recordingLogger(),
  ) satisfies BillingNotifications;

  beforeAll(async () => {
    database = await createTestDatabase();
    orm = await MikroORM.init(ormOptions({ url: database.url, poolMax: 4 }));
  });

  afterAll(async () => {
    await orm?.close();
    await database?.drop();
  });

  const subscriptionObject = {
    id: 'sub_mails',
    currency: 'usd',
    trial_end: Date.UTC(2026, 11, 10) / 1000,
    ended_at: Date.UTC(2026, 11, 31) / 1000,
    canceled_at: Date.UTC(2026, 11, 20) / 1000,
    default_payment_method: null,
    items: {
      data: [
        { quantity: 1, price: { unit_amount: 1900, recurring: { usage_type: 'licensed' } } },
        { price: { unit_amount: null, recurring: { usage_type: 'metered' } } },
      ],
    },
  };

  it('queues each mail with the account’s email, the plan’s name and Stripe’s figures, once', async () => {
    const em = orm.em.fork();
    const customer = createCustomer(em, { accountId: 'acct_mails', email: 'owner@acme.io' });
    createSubscription(em, customer, { stripeSubscriptionId: 'sub_mails', planKey: 'starter' });
    await em.flush();

    const invoice = {
      id: 'in_mails',
      number: 'MAILS-1',
      amount_remaining: 1900,
      currency: 'usd',
      attempt_count: 2,
      next_payment_attempt: Date.UTC(2026, 11, 3) / 1000,
      hosted_invoice_url: 'https://invoice.stripe.com/i/x',
      customer_email: 'stale@acme.io',
      parent: { subscription_details: { subscription: 'sub_mails' } },
    };
    await orm.em.fork().transactional(async (tx) => {
      await mails.paymentFailed(tx, 'acct_mails', invoice);
      await mails.trialWillEnd(tx, 'acct_mails', subscriptionObject);
      await mails.subscriptionCanceled(tx, 'acct_mails', subscriptionObject, 'evt_1');
    });
    // The same events handled again (a redelivery, or another instance): no new mail.
    await orm.em.fork().transactional(async (tx) => {
      await mails.paymentFailed(tx, 'acct_mails', invoice);
      await mails.trialWillEnd(tx, 'acct_mails', subscriptionObject);
      await mails.subscriptionCanceled(tx, 'acct_mails', subscriptionObject, 'evt_2');
    });

    const stored = await orm.em.fork().find(Notification, {}, { orderBy: { dedupeKey: 'asc' } });
    expect(stored.map((row) => [row.dedupeKey, row.recipient])).toEqual([
      ['payment_failed:in_mails:2', 'owner@acme.io'],
      ['subscription_canceled:sub_mails', 'owner@acme.io'],
      [`trial_will_end:sub_mails:${Date.UTC(2026, 11, 10) / 1000}`, 'owner@acme.io'],
    ]);
    const starter = loadPlanCatalog().plan('starter').name;
    expect(stored[0].data).toMatchObject({
      amountDue: 1900,
      currency: 'USD',
      planName: starter,
      invoiceNumber: 'MAILS-1',
    });
    expect(stored[1].data).toMatchObject({ planName: starter, endedAt: '2026-12-31T00:00:00.000Z' });
    expect(stored[2].data).toMatchObject({
      hasPaymentMethod: false,
      amountAfterTrial: 1900,
      currency: 'USD',
    });
  });
});
