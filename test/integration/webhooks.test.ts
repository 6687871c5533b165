import { Entitlement, Subscription, WebhookEvent } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { connectSocket, subscribe } from '../support/ws-client';
import { waitUntil } from '../support/wait';
import { fakeEvent, signEvent } from '../support/webhook-harness';
import { aSecondOfOurOwn } from '../support/webhook-harness';

/**
 * The webhook endpoint (checklist 6.1.3 and 6.2.3): signature checks, the inbox, idempotency, routing, unknown
 * types, the full processing against the emulator's own deliveries, provisioning and live updates.
 */

const ALLOWED = 'http://localhost:3000';

describe('POST /webhooks/stripe', () => {
  let stack: BillingStack;
  let secret: string;

  beforeAll(async () => {
    stack = await startBillingStack({ BILLING_ALLOWED_REDIRECT_ORIGINS: ALLOWED }, { webhooks: true });
    secret = stack.webhookSecret as string;
    await fetch(`${stack.emulator.url}/_emulator/webhooks/mode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ retry_schedule_ms: [200, 400, 800, 1600] }),
    });
  });
  afterAll(() => stack.stop());

  function deliver(body: string, signature?: string) {
    return fetch(`${stack.url}/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(signature ? { 'stripe-signature': signature } : {}),
      },
      body,
    });
  }

  /**
   * Delivers, then waits until the service processed what the delivery queued (ADR 0020: the answer comes once
   * the event is stored, processing follows); the HTTP status and the endpoint's answer.
   */
  async function deliverAndProcess(signed: { body: string; signature: string }) {
    const response = await deliver(signed.body, signed.signature);
    const answer = (await response.json()) as { received: boolean; outcome?: string };
    await stack.drainWebhooks();
    return { status: response.status, answer };
  }

  async function storedEvents(filter: object = {}) {
    return stack.app.orm.em.fork().find(WebhookEvent, filter);
  }

  describe('signature verification', () => {
    it('rejects a missing, forged or stale signature with 400 and stores nothing', async () => {
      const event = fakeEvent('customer.created', { id: 'cus_forged', object: 'customer' }, 'evt_forged_1');
      const forged = signEvent(event, 'whsec_someone_else');
      const stale = signEvent(event, secret, Math.floor(Date.now() / 1000) - 400);
      expect((await deliver(forged.body)).status).toBe(400);
      expect((await deliver(forged.body, forged.signature)).status).toBe(400);
      expect((await deliver(stale.body, stale.signature)).status).toBe(400);
      // A signature over other bytes than those sent (a re-serialised body) fails too.
      const valid = signEvent(event, secret);
      expect((await deliver(`${valid.body} `, valid.signature)).status).toBe(400);
      expect(await storedEvents({ stripeEventId: 'evt_forged_1' })).toEqual([]);
    });

    it('rejects a signed body that is not an event', async () => {
      const { body, signature } = signEvent({ hello: 'world' }, secret);
      expect((await deliver(body, signature)).status).toBe(400);
    });

    it('caps the body size', async () => {
      const { body, signature } = signEvent(
        fakeEvent('customer.updated', {
          id: 'cus_big',
          object: 'customer',
          description: 'x'.repeat(600_000),
        }),
        secret,
      );
      expect((await deliver(body, signature)).status).toBe(413);
    });
  });

  describe('inbox', () => {
    it('stores an unknown event type, answers 200 and does nothing else', async () => {
      const { body, signature } = signEvent(
        fakeEvent('radar.early_fraud_warning.created', { id: 'issfr_1' }, 'evt_unknown_1'),
        secret,
      );
      expect(await deliverAndProcess({ body, signature })).toEqual({
        status: 200,
        answer: { received: true, outcome: 'queued' },
      });
      const [stored] = await storedEvents({ stripeEventId: 'evt_unknown_1' });
      expect(stored).toMatchObject({
        type: 'radar.early_fraud_warning.created',
        status: 'ignored',
        objectId: 'issfr_1',
      });
    });

    it('processes an event once: a duplicate answers 200 and does nothing', async () => {
      const customer = await stack.stripe.customers.create({
        email: 'dup@x.io',
        metadata: { account_id: 'acct_dup' },
      });
      // Stripe's own customer.created delivery links the account first; then our hand-made event follows.
      await stack.flushWebhooks();
      const event = fakeEvent('customer.updated', customer, 'evt_dup_1');
      const first = await deliverAndProcess(signEvent(event, secret));
      expect(first.answer).toEqual({ received: true, outcome: 'queued' });
      expect((await storedEvents({ stripeEventId: 'evt_dup_1' }))[0]).toMatchObject({ status: 'processed' });
      const again = await deliverAndProcess(signEvent(event, secret));
      expect(again).toEqual({ status: 200, answer: { received: true, outcome: 'duplicate' } });
      const [stored] = await storedEvents({ stripeEventId: 'evt_dup_1' });
      expect(stored).toMatchObject({ status: 'processed', attempts: 1 });
    });

    it('keeps an event about a customer not linked yet as failed, and processes it once an event links the customer', async () => {
      const customer = await stack.stripe.customers.create({ email: 'early@x.io' });
      const subscription = await stack.stripe.subscriptions.create({
        customer: customer.id,
        items: [
          { price: (await stack.stripe.prices.list({ lookup_keys: ['price_starter_monthly'] })).data[0].id },
        ],
        trial_period_days: 14,
      });
      const event = fakeEvent('customer.subscription.created', subscription, 'evt_early_1');
      expect((await deliverAndProcess(signEvent(event, secret))).status).toBe(200);
      const [failed] = await storedEvents({ stripeEventId: 'evt_early_1' });
      expect(failed).toMatchObject({ status: 'failed', attempts: 1 });
      expect(failed.lastError).toMatch(/not linked to an account yet/);

      // checkout.session.completed (or any event naming the account) links the customer; its commit brings the
      // failed events of the same customer forward, and the queue processes the first one again at once.
      await stack.stripe.customers.update(customer.id, { metadata: { account_id: 'acct_early' } });
      const link = signEvent(
        fakeEvent('customer.updated', { ...customer, metadata: { account_id: 'acct_early' } }),
        secret,
      );
      expect((await deliverAndProcess(link)).status).toBe(200);
      // A redelivery now changes nothing.
      const retry = await deliverAndProcess(signEvent(event, secret));
      expect(retry.answer).toEqual({ received: true, outcome: 'duplicate' });
      const [processed] = await storedEvents({ stripeEventId: 'evt_early_1' });
      expect(processed).toMatchObject({ status: 'processed', attempts: 2, lastError: null });
      const row = await stack.app.orm.em
        .fork()
        .findOneOrFail(Subscription, { stripeSubscriptionId: subscription.id });
      expect(row).toMatchObject({ accountId: 'acct_early', status: 'trialing', planKey: 'starter' });
    });

    it('gives up, after an hour, on an event about a customer that never links to an account', async () => {
      const stranger = await stack.stripe.customers.create({ email: 'dashboard@x.io' });
      const price = (await stack.stripe.prices.list({ lookup_keys: ['price_starter_monthly'] })).data[0];
      const subscription = await stack.stripe.subscriptions.create({
        customer: stranger.id,
        items: [{ price: price.id }],
        trial_period_days: 7,
      });
      const event = fakeEvent('customer.subscription.created', subscription, 'evt_stranger_1');
      await deliverAndProcess(signEvent(event, secret));
      expect((await storedEvents({ stripeEventId: 'evt_stranger_1' }))[0]).toMatchObject({
        status: 'failed',
      });
      await stack.app.orm.em
        .fork()
        .nativeUpdate(
          WebhookEvent,
          { stripeEventId: 'evt_stranger_1' },
          { receivedAt: new Date(Date.now() - 2 * 3600_000) },
        );
      // A redelivery of a failed event (a resend from Stripe's Dashboard) makes it due at once.
      expect(await deliverAndProcess(signEvent(event, secret))).toEqual({
        status: 200,
        answer: { received: true, outcome: 'queued' },
      });
      const [stored] = await storedEvents({ stripeEventId: 'evt_stranger_1' });
      expect(stored.status).toBe('ignored');
      expect(stored.lastError).toMatch(/^given up: .*not linked/);
    });

    it('never gives up over a concurrent replay that processed the event meanwhile', async () => {
      const customer = await stack.stripe.customers.create({ email: 'late-link@x.io' });
      const price = (await stack.stripe.prices.list({ lookup_keys: ['price_starter_monthly'] })).data[0];
      const subscription = await stack.stripe.subscriptions.create({
        customer: customer.id,
        items: [{ price: price.id }],
        trial_period_days: 7,
      });
      const id = 'evt_give_up_race_1';
      const event = fakeEvent('customer.subscription.created', subscription, id);
      await deliverAndProcess(signEvent(event, secret));
      expect((await storedEvents({ stripeEventId: id }))[0]).toMatchObject({ status: 'failed' });
      const orm = stack.app.orm;
      await orm.em
        .fork()
        .nativeUpdate(
          WebhookEvent,
          { stripeEventId: id },
          { receivedAt: new Date(Date.now() - 2 * 3600_000) },
        );

      // A worker's attempt on a redelivery fails (still unlinked, past the window) and is held just before it
      // gives up...
      let reached: () => void = () => undefined;
      const atGiveUp = new Promise<void>((done) => {
        reached = done;
      });
      let release: () => void = () => undefined;
      const released = new Promise<void>((done) => {
        release = done;
      });
      const prototype = Object.getPrototypeOf(orm.em) as typeof orm.em;
      const nativeUpdate = prototype.nativeUpdate;
      let held = false;
      const hold = jest.spyOn(prototype, 'nativeUpdate').mockImplementation(async function (
        this: typeof orm.em,
        ...args: Parameters<typeof nativeUpdate>
      ) {
        const [, where, data] = args as unknown as [
          unknown,
          { stripeEventId?: unknown },
          { status?: unknown },
        ];
        if (where?.stripeEventId === id && data?.status === 'ignored' && !held) {
          held = true;
          reached();
          await released;
        }
        return nativeUpdate.apply(this, args);
      });
      try {
        const giving = deliverAndProcess(signEvent(event, secret));
        await atGiveUp;
        // ...meanwhile the customer is linked (its event waits in line behind the held one: an admin replays it)
        // and an admin's replay processes the event.
        await stack.stripe.customers.update(customer.id, { metadata: { account_id: 'acct_late_link' } });
        const linkEvent = fakeEvent('customer.updated', {
          ...customer,
          metadata: { account_id: 'acct_late_link' },
        });
        const link = signEvent(linkEvent, secret);
        expect((await deliver(link.body, link.signature)).status).toBe(200);
        const reconciler = stack.app.reconciler;
        if (!reconciler) throw new Error('the stack has no reconciler');
        expect(await reconciler.replay(linkEvent.id)).toMatchObject({ status: 'processed' });
        expect(await reconciler.replay(id)).toMatchObject({ status: 'processed' });
        release();
        // The held attempt then finds it processed: it does not put `ignored` over the processed row.
        expect((await giving).status).toBe(200);
      } finally {
        release();
        hold.mockRestore();
      }
      const [stored] = await storedEvents({ stripeEventId: id });
      expect(stored).toMatchObject({ status: 'processed', lastError: null });
      const row = await orm.em.fork().findOneOrFail(Subscription, { stripeSubscriptionId: subscription.id });
      expect(row).toMatchObject({ accountId: 'acct_late_link', status: 'trialing' });
    });
  });

  describe('processing Stripe’s own deliveries', () => {
    it('checkout → webhooks → active subscription, professional entitlements, and accountUpdated pushed live', async () => {
      const gql = await stack.as('acct_webhook_checkout');
      const client = connectSocket(stack.url, `Bearer ${await stack.token('acct_webhook_checkout')}`);
      const updates = subscribe<{ accountUpdated: { id: string; plan: { key: string } } }>(
        client,
        'subscription { accountUpdated { id plan { key } } }',
      );
      await new Promise((done) => setTimeout(done, 200));

      const created = await gql<{ createCheckoutSession: { id: string } }>(
        `mutation { createCheckoutSession(input: { planKey: "professional", successUrl: "${ALLOWED}/ok", cancelUrl: "${ALLOWED}/no" }) { id } }`,
      );
      const sessionId = created.data?.createCheckoutSession.id as string;
      const paid = await fetch(`${stack.emulator.url}/_emulator/checkout/sessions/${sessionId}/complete`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ card: '4242424242424242' }),
      });
      expect(paid.status).toBe(200);
      await stack.flushWebhooks();

      const em = stack.app.orm.em.fork();
      const subscription = await em.findOneOrFail(Subscription, { accountId: 'acct_webhook_checkout' });
      expect(subscription).toMatchObject({ status: 'active', planKey: 'professional' });
      const entitlements = await em.find(Entitlement, { accountId: 'acct_webhook_checkout' });
      expect(entitlements.find((row) => row.featureKey === 'team_collaboration')?.enabled).toBe(true);
      expect(entitlements.find((row) => row.featureKey === 'ai_requests')?.limit).toBe(10_000);

      await waitUntil(async () => {
        const update = await updates.next(5000);
        return update.accountUpdated.plan.key === 'professional';
      }, 'a live accountUpdated shows the professional plan');
      updates.close();
      await client.dispose();

      const viewer = await gql<{
        viewer: {
          invoices: { nodes: Array<{ status: string; amountPaid: number }> };
          paymentMethods: Array<{ last4: string }>;
        };
      }>('{ viewer { invoices { nodes { status amountPaid } } paymentMethods { last4 isDefault } } }');
      expect(viewer.data?.viewer.invoices.nodes).toContainEqual({ status: 'paid', amountPaid: 4900 });
      expect(viewer.data?.viewer.paymentMethods).toEqual([{ last4: '4242', isDefault: true }]);
    });

    it('ends equal to Stripe whatever the order, with duplicates and concurrency', async () => {
      await fetch(`${stack.emulator.url}/_emulator/webhooks/mode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ order: 'shuffle', window: 8, twice: true, concurrent: true }),
      });
      const startedAt = await aSecondOfOurOwn(stack.emulator.url);
      try {
        const accounts = ['acct_chaos_1', 'acct_chaos_2', 'acct_chaos_3'];
        for (const accountId of accounts) {
          const gql = await stack.as(accountId);
          await gql(
            'mutation { createSubscription(input: { planKey: "starter", paymentMethodId: "pm_card_visa" }) { id } }',
          );
          await gql('mutation { changeSubscription(input: { planKey: "professional" }) { id } }');
        }
        await (await stack.as('acct_chaos_2'))(
          'mutation { cancelSubscription(input: { atPeriodEnd: true }) { id } }',
        );
        await (await stack.as('acct_chaos_3'))(
          'mutation { cancelSubscription(input: { atPeriodEnd: false }) { id } }',
        );
        await stack.flushWebhooks();

        const em = stack.app.orm.em.fork();
        for (const accountId of accounts) {
          const rows = await em.find(Subscription, { accountId });
          expect(rows).toHaveLength(1);
          const inStripe = await stack.stripe.subscriptions.retrieve(rows[0].stripeSubscriptionId);
          expect({
            status: rows[0].status,
            price: rows[0].priceId,
            cancelAtPeriodEnd: rows[0].cancelAtPeriodEnd,
          }).toEqual({
            status: inStripe.status,
            price: inStripe.items.data[0].price.id,
            cancelAtPeriodEnd: inStripe.cancel_at_period_end,
          });
        }
        // Every event Stripe sent is stored once and ended processed (or ignored): none failed or pending, and
        // each was delivered at least twice (the "twice" switch).
        const sent = (await stack.stripe.events.list({ created: { gte: startedAt }, limit: 100 })).data;
        const stored = await em.find(WebhookEvent, { stripeEventId: { $in: sent.map((event) => event.id) } });
        expect(stored).toHaveLength(sent.length);
        expect(stored.filter((row) => row.status !== 'processed' && row.status !== 'ignored')).toEqual([]);
        const deliveries = (await (
          await fetch(`${stack.emulator.url}/_emulator/webhooks/deliveries`)
        ).json()) as
          | Array<{ event: string; copy: number }>
          | { data: Array<{ event: string; copy: number }> };
        const attempts = Array.isArray(deliveries) ? deliveries : deliveries.data;
        for (const event of sent) {
          expect(attempts.filter((attempt) => attempt.event === event.id).length).toBeGreaterThanOrEqual(2);
        }
      } finally {
        await fetch(`${stack.emulator.url}/_emulator/webhooks/mode`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ reset: true, retry_schedule_ms: [200, 400, 800, 1600] }),
        });
      }
    });
  });
});
