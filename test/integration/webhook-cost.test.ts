import Stripe from 'stripe';
import { Entitlement, WebhookEvent } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { countQueries, type QueryCounter } from '../support/query-counter';

/**
 * What one webhook costs in SQL (issue 8), and that the work it now skips (provisioning when nothing that decides
 * the plan changed) is never skipped when the plan does change. Statements are counted at the `pg` client.
 */
describe('webhook cost per event', () => {
  let stack: BillingStack;
  let counter: QueryCounter;

  beforeAll(async () => {
    counter = countQueries();
    // No background worker may run a statement while one delivery is counted.
    stack = await startBillingStack({ MAIL_WORKER_INTERVAL_MS: '3600000' }, { webhooks: true });
  });
  afterAll(async () => {
    counter.restore();
    await stack.stop();
  });

  async function deliver(subscription: Stripe.Subscription): Promise<unknown> {
    const body = JSON.stringify({
      id: `evt_cost_${Math.random().toString(36).slice(2)}`,
      object: 'event',
      api_version: '2026-10-28.endive',
      created: Math.floor(Date.now() / 1000),
      data: { object: subscription },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: 'customer.subscription.updated',
    });
    const signature = Stripe.webhooks.generateTestHeaderString({
      payload: body,
      secret: stack.webhookSecret as string,
    });
    const response = await fetch(`${stack.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signature },
      body,
    });
    return response.json();
  }

  async function price(lookupKey: string): Promise<Stripe.Price> {
    const [found] = (await stack.stripe.prices.list({ lookup_keys: [lookupKey] })).data;
    return found;
  }

  async function features(accountId: string): Promise<Record<string, boolean>> {
    const rows = await stack.app.orm.em.fork().find(Entitlement, { accountId });
    return Object.fromEntries(rows.map((row) => [row.featureKey, row.enabled]));
  }

  it('a re-delivered subscription event costs 1 statement to answer and 3 to process, no provisioning; a plan change still provisions', async () => {
    const accountId = 'acct_webhook_cost';
    const customer = await stack.stripe.customers.create({
      email: 'cost@example.com',
      metadata: { account_id: accountId },
      payment_method: 'pm_card_visa',
      invoice_settings: { default_payment_method: 'pm_card_visa' },
    });
    const subscription = await stack.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: (await price('price_starter_monthly')).id }],
      metadata: { account_id: accountId },
    });
    // Stripe's own deliveries link the customer, store the subscription and provision starter.
    await stack.flushWebhooks();
    expect((await features(accountId)).team_collaboration).toBe(false);

    // This instance's workers stop, so each statement below is the delivery's or the drain's, in order.
    await stack.app.webhookQueue?.stop();
    counter.texts.length = 0;
    counter.counting = true;
    expect(await deliver(subscription)).toEqual({ received: true, outcome: 'queued' });
    // The answer costs one statement: the inbox insert (ADR 0020).
    expect(counter.texts).toHaveLength(1);
    expect(counter.texts[0]).toMatch(
      /^insert into webhook_event\s.* on conflict \(stripe_event_id\) do update/s,
    );
    counter.texts.length = 0;
    await stack.drainWebhooks();
    counter.counting = false;
    // Processing: the claim (lock and claim, one round trip); begin sent with the lock-and-mark and the
    // statement of the customer, the subscription locked and its read time (one round trip, issue 14; both
    // prepared at the SQL level once per connection, which this count leaves out); commit; then the drain's
    // claim that finds nothing more.
    const sent = counter.texts.filter((sql) => !/^PREPARE /.test(sql));
    expect(sent).toHaveLength(4);
    expect(sent[0]).toMatch(/^select pg_advisory_xact_lock.*;\s*update webhook_event claimed/s);
    expect(sent[1]).toMatch(/^BEGIN; EXECUTE bare_\w+\([^;]*\); EXECUTE bare_\w+\('cus_/);
    expect(sent[2]).toBe('COMMIT');
    expect(counter.texts.filter((sql) => /entitlement/.test(sql))).toEqual([]);
    stack.app.webhookQueue?.start();

    // Upgraded in Stripe directly: only the webhook can provision it, and it must.
    const item = subscription.items.data[0];
    await stack.stripe.subscriptions.update(subscription.id, {
      items: [{ id: item.id, price: (await price('price_professional_monthly')).id }],
      proration_behavior: 'none',
    });
    await stack.flushWebhooks();
    expect((await features(accountId)).team_collaboration).toBe(true);
  });

  it('a failed delivery marks the event failed and counts the attempt in one statement', async () => {
    // A subscription Stripe does not have: the handler's re-read fails, before any transaction.
    const missing = { id: 'sub_cost_missing', object: 'subscription' } as Stripe.Subscription;
    await stack.flushWebhooks();
    await stack.app.webhookQueue?.stop();
    expect(await deliver(missing)).toEqual({ received: true, outcome: 'queued' });
    counter.texts.length = 0;
    counter.counting = true;
    await stack.drainWebhooks();
    counter.counting = false;
    stack.app.webhookQueue?.start();
    // The claim; then `failed` and the attempt together, never over `processed` (with two counter.texts, a failure
    // between them left a failed event with an attempt uncounted); then the drain's claim that finds nothing.
    expect(counter.texts).toHaveLength(3);
    expect(counter.texts[1]).toMatch(
      /^\s*update webhook_event\s+set status = 'failed', attempts = attempts \+ 1, .*where stripe_event_id = '\w+' and status <> 'processed'/s,
    );
    const [row] = await stack.app.orm.em.fork().find(WebhookEvent, { objectId: missing.id });
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
  });
});
