import fc from 'fast-check';
import type Stripe from 'stripe';
import { WebhookEvent, type WebhookEventStatus } from '../../src/entities';
import { InboxIntake } from '../../src/webhooks/inbox/inbox-intake';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { fakeEvent, postWebhook, signEvent } from '../support/webhook-harness';

/**
 * The webhook endpoint's group commit (ADR 0020): concurrent deliveries share one `insert … on conflict`, and
 * each is answered as if it had been stored alone. Nothing stored twice, nothing queued twice, a failed or dead
 * event sent again made due, and a delivery that cannot be stored fails only itself.
 */

jest.setTimeout(120_000);

describe('webhook intake (group commit)', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    // No workers: the rows stay as the intake left them.
    stack = await startBillingStack({ RECONCILE_INTERVAL_MS: '0', WEBHOOK_WORKERS: '0' }, { webhooks: true });
  });
  afterAll(() => stack.stop());

  const customer = { id: 'cus_intake', object: 'customer' };

  async function rowsOf(ids: string[]): Promise<WebhookEvent[]> {
    return stack.app.orm.em.fork().find(WebhookEvent, { stripeEventId: { $in: ids } });
  }

  async function plant(event: Stripe.Event, status: WebhookEventStatus): Promise<void> {
    const em = stack.app.orm.em.fork();
    em.create(WebhookEvent, {
      stripeEventId: event.id,
      type: event.type,
      payload: event as unknown as Record<string, unknown>,
      status,
      stripeCreatedAt: new Date(event.created * 1000),
      attempts: status === 'received' ? 0 : 2,
      nextAttemptAt: status === 'failed' ? new Date(Date.now() + 3_600_000) : null,
    });
    await em.flush();
  }

  it('answers concurrent deliveries as if they came one after another: one row per event, a new one queued once, failed and dead ones due again', async () => {
    let round = 0;
    await fc.assert(
      fc.asyncProperty(
        // Each delivery names one of 6 events; each event may already be in the inbox in some state.
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 40 }),
        fc.array(
          // `processing`: a redelivery while a worker holds the event changes nothing and queues nothing.
          fc.constantFrom<WebhookEventStatus | null>(
            null,
            'received',
            'processing',
            'processed',
            'ignored',
            'failed',
            'dead',
          ),
          {
            minLength: 6,
            maxLength: 6,
          },
        ),
        async (deliveries, before) => {
          round += 1;
          const intake = new InboxIntake(stack.app.orm);
          const events = before.map((_, index) =>
            fakeEvent('customer.updated', customer, `evt_intake_${round}_${index}`),
          );
          for (const [index, status] of before.entries()) if (status) await plant(events[index], status);
          const answers = await Promise.all(
            deliveries.map((index) => intake.accept({ event: events[index] })),
          );
          const rows = await rowsOf(events.map((event) => event.id));
          for (const [index, event] of events.entries()) {
            const delivered = deliveries.filter((which) => which === index).length;
            const queued = answers.filter((answer, at) => answer && deliveries[at] === index).length;
            const stored = rows.filter((row) => row.stripeEventId === event.id);
            const status = before[index];
            // As if one after another: a new event is queued by its first delivery (the rest are duplicates);
            // every delivery of a failed or dead one makes it due again.
            const redelivered = status === 'failed' || status === 'dead';
            expect(stored).toHaveLength(status !== null || delivered > 0 ? 1 : 0);
            expect(queued).toBe(redelivered ? delivered : status === null ? Math.min(delivered, 1) : 0);
            if (delivered === 0) continue;
            if (status === null) expect(stored[0]).toMatchObject({ status: 'received', attempts: 0 });
            else if (status === 'failed' || status === 'dead') {
              // Due now, still counting the attempts it had.
              expect(stored[0]).toMatchObject({ status: 'failed', attempts: 2 });
              expect(stored[0].nextAttemptAt?.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
            } else expect(stored[0].status).toBe(status);
          }
          const { groups, requests } = intake.stats();
          expect(requests).toBe(deliveries.length);
          // Concurrent deliveries share statements: the first goes alone, the rest wait for it together.
          expect(groups).toBeLessThanOrEqual(Math.min(deliveries.length, 2));
        },
      ),
      { numRuns: 25 },
    );
  });

  it('a delivery that cannot be stored fails alone; the others of its group are stored and answered', async () => {
    const intake = new InboxIntake(stack.app.orm);
    const good = [1, 2, 3].map((index) =>
      fakeEvent('customer.updated', customer, `evt_intake_good_${index}`),
    );
    // Longer than the column: the database refuses the row, and with it the whole statement.
    const bad = fakeEvent('customer.updated', customer, `evt_${'x'.repeat(300)}`);
    const first = intake.accept({ event: fakeEvent('customer.updated', customer, 'evt_intake_ahead') });
    // These four wait for the first statement and go out together.
    const group = [good[0], bad, good[1], good[2]].map((event) => intake.accept({ event }));
    expect(await first).toBe(true);
    const settled = await Promise.allSettled(group);
    expect(settled.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(
      settled.filter((outcome) => outcome.status === 'fulfilled').map((outcome) => outcome.value),
    ).toEqual([true, true, true]);
    expect(await rowsOf(good.map((event) => event.id))).toHaveLength(3);
    expect(intake.stats()).toEqual({ groups: 2, requests: 5 });
  });

  it('the endpoint answers concurrent deliveries through the intake: 32 at once, each stored once, duplicates answered as such', async () => {
    const events = Array.from({ length: 24 }, (_, index) =>
      fakeEvent('customer.updated', customer, `evt_intake_http_${index}`),
    );
    const secret = stack.webhookSecret as string;
    // Every event once, and 8 of them a second time, all in flight together.
    const sends = [...events, ...events.slice(0, 8)].map((event) =>
      postWebhook(stack.url, signEvent(event, secret)),
    );
    const answers = await Promise.all(sends);
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(answers.filter((answer) => answer.outcome === 'queued')).toHaveLength(24);
    expect(answers.filter((answer) => answer.outcome === 'duplicate')).toHaveLength(8);
    const rows = await rowsOf(events.map((event) => event.id));
    expect(rows).toHaveLength(24);
    expect(rows.every((row) => row.status === 'received')).toBe(true);
  });
});
