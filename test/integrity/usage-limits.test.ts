import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { BillingClient, usageGate } from '../../src/client';
import { codeOf, DAY, FINALIZATION_GRACE, lastInvoice, linesOf, startWorld, type World } from './world';

/**
 * Limits that hold (docs/billing-rules.md, rows "burst", "past due", "late use"): through the usage middleware a
 * hard limit holds however many requests arrive at once; a past-due subscription gets nothing past its allowance;
 * a use recorded late is billed in its own period, on that period's invoice.
 */
describe('limits and late usage', () => {
  let world: World;
  const run = Date.now().toString(36);
  beforeAll(async () => {
    world = await startWorld({
      // Two Stripe retries a day apart, then canceled: the grace period (7 days) outlives them.
      BILLING_GRACE_PERIOD_DAYS: '7',
    });
  });
  afterAll(() => world.stop());

  it('1,000 requests at once through the middleware on a free account with 10 left serve exactly 10', async () => {
    const nora = await world.customer(`acct_burst_${run}`);
    expect(codeOf(await nora.use(90))).toBeNull();
    const { stack } = world;
    const client = new BillingClient({
      url: `${stack.url}/graphql`,
      token: () => stack.token('svc_ai_gateway', { roles: ['service'] }),
      timeoutMs: 30_000,
    });
    const gate = usageGate({
      client,
      metric: 'ai_requests',
      accountId: (req: IncomingMessage) => req.headers['x-account-id'] as string,
    });
    let served = 0;
    const app = express();
    app.post('/complete', gate, (_req, res) => {
      served += 1;
      res.json({ completion: 'ok' });
    });
    // All 1,000 connect at once: a backlog above Node's default 511 keeps the kernel from resetting the surplus
    // while the event loop is busy (seen in CI on a loaded machine), so every request reaches the gate.
    const server = app.listen(0, '127.0.0.1', 1024);
    server.keepAliveTimeout = 60_000; // the client closes idle connections first (see test/support/ai-gateway.ts)
    await new Promise((ready) => server.once('listening', ready));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/complete`;
      const statuses = await Promise.all(
        Array.from({ length: 1000 }, async () => {
          const response = await fetch(url, { method: 'POST', headers: { 'x-account-id': nora.accountId } });
          await response.arrayBuffer();
          return response.status;
        }),
      );
      expect(statuses.filter((status) => status === 200)).toHaveLength(10);
      expect(statuses.filter((status) => status === 402)).toHaveLength(990);
      expect(served).toBe(10);
      expect(await gate.flush({ timeoutMs: 20_000 })).toEqual({ pending: 0 });
      expect((await nora.viewer()).usage.find((row) => row.metric === 'ai_requests')).toMatchObject({
        used: 100,
        included: 100,
      });
    } finally {
      await gate.close({ timeoutMs: 1000 });
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    }
  }, 90_000); // 1,000 requests and their reservations: far past jest's 30 s default on a loaded CI machine

  it('past due: nothing past the allowance during the grace period, and no overage billed for it', async () => {
    const owen = await world.customer(`acct_past_due_${run}`);
    expect((await owen.subscribe('starter', { card: 'pm_card_chargeCustomerFail' })).errors).toBeDefined();
    // That card cannot pay: subscribe with a good one, then make the failing one the default for the renewal.
    expect((await owen.subscribe('starter')).errors).toBeUndefined();
    const customer = await owen.stripeCustomerId();
    const failing = await world.stack.stripe.paymentMethods.attach('pm_card_chargeCustomerFail', {
      customer,
    });
    await world.stack.stripe.customers.update(customer, {
      invoice_settings: { default_payment_method: failing.id },
    });
    const subscriptionId = (await owen.viewer()).subscription?.id as string;
    await world.stack.stripe.subscriptions.update(subscriptionId, { default_payment_method: failing.id });

    await world.advance(31 * DAY + FINALIZATION_GRACE);
    expect((await owen.viewer()).subscription?.status).toBe('PAST_DUE');
    // Still starter (grace period), but nothing past the 1,000 included while the payment fails.
    expect(codeOf(await owen.use(1000))).toBeNull();
    const over = await owen.use(1);
    expect(over.errors?.[0]?.extensions).toMatchObject({
      code: 'USAGE_LIMIT_EXCEEDED',
      reason: 'PAST_DUE',
      limit: 1000,
    });
    await world.reportOverage();
    expect((await owen.viewer()).usage.find((row) => row.metric === 'ai_requests')).toMatchObject({
      overage: 0,
    });
    // Nothing of this period reached the meter: the summaries of the customer's meter are all 0.
    const meters = await world.stack.stripe.billing.meters.list({ limit: 10 });
    const requests = meters.data.find((meter) => meter.event_name === 'coditect_ai_requests');
    const summaries = await world.stack.stripe.billing.meters.listEventSummaries(requests?.id as string, {
      customer,
      start_time: Math.floor(Date.parse('2026-01-01') / 1000),
      end_time: Math.floor(Date.parse('2030-01-01') / 1000),
    });
    expect(summaries.data.reduce((sum, summary) => sum + summary.aggregated_value, 0)).toBe(0);
  });

  it('a use dated before a renewal is billed in its own period, on that period’s invoice', async () => {
    const pia = await world.customer(`acct_late_${run}`);
    expect((await pia.subscribe('starter')).errors).toBeUndefined();
    expect(codeOf(await pia.use(990))).toBeNull();
    const periodEnd = Date.parse((await pia.viewer()).subscription?.currentPeriodEnd as string);
    // The renewal happens; its invoice stays a draft for the finalization hour.
    const now = world.stack.app.clock.now().getTime();
    await world.advance(Math.ceil((periodEnd - now) / 1000) + 10 * 60);
    // Recorded ten minutes after the renewal, dated two minutes before it: 20 past the closed period's 1,000.
    const late = await pia.service(
      'mutation($input: RecordUsageInput!) { recordUsage(input: $input) { usage { used periodEnd } } }',
      {
        input: {
          accountId: pia.accountId,
          metric: 'ai_requests',
          quantity: 30,
          idempotencyKey: `${pia.accountId}-late`,
          occurredAt: new Date(periodEnd - 2 * 60_000).toISOString(),
        },
      },
    );
    expect(late.errors).toBeUndefined();
    await world.reportOverage();
    await world.advance(FINALIZATION_GRACE);
    const renewal = lastInvoice(await pia.invoices(), 'subscription_cycle');
    expect(linesOf(renewal, 'price_ai_requests_overage')).toEqual([[20, 20]]);
    expect(renewal).toMatchObject({ status: 'paid', total: 1900 + 20 });
    // The new period starts with its own, untouched allowance.
    expect((await pia.viewer()).usage.find((row) => row.metric === 'ai_requests')).toMatchObject({ used: 0 });
  });
});
