import fc from 'fast-check';
import type Stripe from 'stripe';
import { WebhookEvent } from '../../src/entities';
import { createWebhookProcessor } from '../../src/app/webhook-pipeline';
import { silentLogger } from '../../src/logging/logger';
import { InboxClaims } from '../../src/webhooks/inbox/inbox-claims';
import { WebhookInbox } from '../../src/webhooks/inbox/webhook-inbox';
import { WebhookProcessor } from '../../src/webhooks/pipeline/webhook-processor';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { stripeServicesOf } from '../support/service';
import { fakeEvent, postWebhook, signEvent } from '../support/webhook-harness';

/**
 * The webhook queue behind the endpoint (ADR 0020): a claim abandoned by a dead instance is processed later,
 * exactly once, and the events of one customer are processed one at a time in the order they arrived, whatever
 * the interleaving with other customers' events.
 */

jest.setTimeout(120_000);

describe('webhook queue', () => {
  let stack: BillingStack;
  const customers: Stripe.Customer[] = [];

  beforeAll(async () => {
    stack = await startBillingStack({ RECONCILE_INTERVAL_MS: '0' }, { webhooks: true });
    for (let index = 0; index < 3; index++)
      customers.push(
        await stack.stripe.customers.create({
          email: `queue-${index}@example.com`,
          metadata: { account_id: `acct_queue_${index}` },
        }),
      );
    await stack.flushWebhooks();
  });
  afterAll(() => stack.stop());

  async function row(stripeEventId: string): Promise<WebhookEvent> {
    return stack.app.orm.em.fork().findOneOrFail(WebhookEvent, { stripeEventId });
  }

  async function post(event: Stripe.Event): Promise<void> {
    const answer = await postWebhook(stack.url, signEvent(event, stack.webhookSecret as string));
    expect(answer).toEqual({ status: 200, outcome: 'queued' });
  }

  it('leaves an event an admin replays to the replay: no worker claims it while the replay holds it', async () => {
    const unhandled = fakeEvent(
      'radar.early_fraud_warning.created',
      { id: 'issfr_queue' },
      'evt_queue_replayed',
    );
    await post(unhandled);
    await stack.drainWebhooks();
    expect(await row(unhandled.id)).toMatchObject({ status: 'ignored' });
    // The replay reopens the row and processes it itself; a worker's claim in that moment passes it over (a
    // `received` row was claimed at once: an unhandled type then counted and logged twice).
    await new WebhookInbox(stack.app.orm, silentLogger).reopen(unhandled.id);
    const claimed = await new InboxClaims(stack.app.orm).claim(10, 60_000);
    expect(claimed.map((event) => event.stripeEventId)).not.toContain(unhandled.id);
    expect(await row(unhandled.id)).toMatchObject({ status: 'processing' });
    await stack.app.orm.em
      .fork()
      .nativeUpdate(
        WebhookEvent,
        { stripeEventId: unhandled.id },
        { status: 'ignored', nextAttemptAt: null },
      );
  });

  it('processes a claim a dead instance abandoned once its lease ends, exactly once, with the events behind it in order', async () => {
    const [customer] = customers;
    // Another instance stops its queue and dies after claiming: the event is `processing` under its lease.
    await stack.app.webhookQueue?.stop();
    const abandoned = fakeEvent('customer.updated', customer, 'evt_queue_abandoned');
    const behind = fakeEvent('customer.updated', customer, 'evt_queue_behind');
    await post(abandoned);
    const claimed = await new InboxClaims(stack.app.orm).claim(10, 60_000);
    expect(claimed.map((event) => event.stripeEventId)).toEqual([abandoned.id]);
    await post(behind);
    stack.app.webhookQueue?.start();

    // While the lease lasts, neither the abandoned event nor the next one of its customer is taken.
    await stack.drainWebhooks();
    expect(await row(abandoned.id)).toMatchObject({ status: 'processing', attempts: 0 });
    expect(await row(behind.id)).toMatchObject({ status: 'received' });

    // The lease ends (moved back rather than waited for): any instance's queue takes it over.
    await stack.app.orm.em
      .fork()
      .nativeUpdate(
        WebhookEvent,
        { stripeEventId: abandoned.id },
        { nextAttemptAt: new Date(Date.now() - 1000) },
      );
    await stack.drainWebhooks();
    const [first, second] = [await row(abandoned.id), await row(behind.id)];
    expect(first).toMatchObject({ status: 'processed', attempts: 1, lastError: null });
    expect(second).toMatchObject({ status: 'processed', attempts: 1 });
    expect(first.processedAt?.getTime()).toBeLessThanOrEqual(second.processedAt?.getTime() ?? 0);

    // The dead instance's worker comes back to life and commits late: it finds the event processed.
    const { app } = stack;
    const processor = createWebhookProcessor(
      app.orm,
      app.services,
      stripeServicesOf(app),
      null,
      silentLogger,
    );
    expect(await processor.processClaimed(claimed[0])).toBe('duplicate');
    expect(await row(abandoned.id)).toMatchObject({ status: 'processed', attempts: 1 });
  });

  it('processes the events of one customer one at a time, in the order they arrived, in any interleaving', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: customers.length - 1 }), { minLength: 4, maxLength: 16 }),
        async (interleaving) => {
          run += 1;
          const sent: Array<{ id: string; customer: number }> = [];
          const started: string[] = [];
          // Events of the same customer that were not yet committed when an event started: must stay empty.
          const overtaken: string[] = [];
          const processClaimed = WebhookProcessor.prototype.processClaimed;
          const spy = jest
            .spyOn(WebhookProcessor.prototype, 'processClaimed')
            .mockImplementation(async function (this: WebhookProcessor, claimed) {
              started.push(claimed.stripeEventId);
              // Read on a connection of its own, as another instance would: an earlier event of the customer is
              // visible as processed only once its transaction committed.
              const position = sent.findIndex((event) => event.id === claimed.stripeEventId);
              const earlier = sent
                .slice(0, position)
                .filter((event) => event.customer === sent[position]?.customer)
                .map((event) => event.id);
              if (earlier.length > 0) {
                const pending = await stack.app.orm.em
                  .fork()
                  .find(WebhookEvent, { stripeEventId: { $in: earlier }, status: { $ne: 'processed' } });
                overtaken.push(
                  ...pending.map((row) => `${row.stripeEventId} before ${claimed.stripeEventId}`),
                );
              }
              return processClaimed.call(this, claimed);
            });
          try {
            // Delivered one after the other (that is the order they arrive in); the queue processes meanwhile.
            for (const [index, customer] of interleaving.entries()) {
              const event = fakeEvent('customer.updated', customers[customer], `evt_order_${run}_${index}`);
              sent.push({ id: event.id, customer });
              await post(event);
            }
            await stack.drainWebhooks();
          } finally {
            spy.mockRestore();
          }
          // The next event of a customer started only after the one before it committed, and in arrival order.
          expect(overtaken).toEqual([]);
          for (const customer of new Set(interleaving)) {
            const own = sent.filter((event) => event.customer === customer).map((event) => event.id);
            expect(started.filter((id) => own.includes(id))).toEqual(own);
          }
          const rows = await stack.app.orm.em
            .fork()
            .find(WebhookEvent, { stripeEventId: { $in: sent.map((event) => event.id) } });
          expect(rows.map((stored) => [stored.status, stored.attempts])).toEqual(
            sent.map(() => ['processed', 1]),
          );
        },
      ),
      { numRuns: 6 },
    );
  });
});
