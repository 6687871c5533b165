import type Stripe from 'stripe';
import { UsageRecord } from '../../src/entities';
import { type AiGateway, startAiGateway } from '../support/ai-gateway';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { waitUntil } from '../support/wait';

/**
 * Checklist 6.3.3, usage metering end to end without a browser: users make AI requests through the usage
 * middleware of an AI gateway (a real Express app), the billing service records them exactly, enforces the free
 * plan's limit with 402, and bills starter's overage on the renewal invoice at the period end (the emulator's
 * clock is moved across it). Real HTTP, PostgreSQL, the real Stripe SDK against the emulator.
 */

const DAY = 24 * 3600;

// 1,400 requests through the gateway in this one process: ~40 s alone, far longer on CI's loaded runs.
jest.setTimeout(240_000);

describe('usage metering end to end (checklist 6.3.3)', () => {
  let stack: BillingStack;
  let gateway: AiGateway;

  beforeAll(async () => {
    // The test reports overage itself: a timed pass in between would take the report the test asserts on.
    stack = await startBillingStack({ USAGE_REPORT_INTERVAL_SECONDS: '3600' }, { webhooks: true });
    gateway = await startAiGateway(stack);
  });

  afterAll(async () => {
    await gateway?.stop();
    await stack?.stop();
  });

  async function usedOf(accountId: string): Promise<number> {
    const gql = await stack.as(accountId);
    const result = await gql<{ viewer: { usage: Array<{ metric: string; used: number }> } }>(
      '{ viewer { usage { metric used } } }',
    );
    return result.data?.viewer.usage.find((row) => row.metric === 'ai_requests')?.used ?? -1;
  }

  it('records every successful AI request exactly once, and a client retry not at all', async () => {
    const accountId = 'acct_e2e_accurate';
    const statuses = await gateway.requests(accountId, 40, 'accurate');
    expect(statuses.every((status) => status === 200)).toBe(true);
    // A client retrying ten of them with the same keys is served but not counted again.
    await gateway.requests(accountId, 10, 'accurate');
    await gateway.gate.flush();
    await waitUntil(async () => (await usedOf(accountId)) === 40, 'all 40 requests are recorded');
    expect(await stack.app.orm.em.fork().count(UsageRecord, { accountId })).toBe(40);
  });

  it('enforces the free plan: request 101 is answered 402 naming the limit', async () => {
    const accountId = 'acct_e2e_limit';
    expect((await gateway.requests(accountId, 100, 'limit')).every((status) => status === 200)).toBe(true);
    await gateway.gate.flush();
    await waitUntil(async () => (await usedOf(accountId)) === 100, 'the allowance is used up');
    const refused = await gateway.request(accountId, 'limit-100');
    expect(refused.status).toBe(402);
    expect(await refused.json()).toMatchObject({
      error: { code: 'USAGE_LIMIT_EXCEEDED', feature: 'ai_requests', limit: 100, used: 100 },
    });
    expect(await usedOf(accountId)).toBe(100);
  });

  it('bills starter’s overage at the period end: 1,250 requests → 250 × $0.01 on the renewal invoice', async () => {
    const accountId = 'acct_e2e_overage';
    const gql = await stack.as(accountId);
    const subscribed = await gql<{ createSubscription: { id: string } }>(
      'mutation { createSubscription(input: { planKey: "starter", interval: MONTH, paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(subscribed.errors).toBeUndefined();
    const subscriptionId = subscribed.data?.createSubscription.id as string;

    const statuses = await gateway.requests(accountId, 1250, 'overage');
    expect(statuses.filter((status) => status === 200)).toHaveLength(1250);
    await gateway.gate.flush({ timeoutMs: 120_000 });
    await waitUntil(
      async () => (await usedOf(accountId)) === 1250,
      'all 1,250 requests are recorded',
      60_000,
    );

    expect(await stack.app.overageReporter?.flush()).toMatchObject({ units: 250, failed: 0 });
    await stack.advanceClock(32 * DAY);
    await stack.flushWebhooks();

    const invoices = await stack.stripe.invoices.list({ subscription: subscriptionId, limit: 100 });
    const renewal = invoices.data.find(
      (invoice) => invoice.billing_reason === 'subscription_cycle',
    ) as Stripe.Invoice;
    expect(renewal).toBeDefined();
    const [overagePrice] = (await stack.stripe.prices.list({ lookup_keys: ['price_ai_requests_overage'] }))
      .data;
    const overage = renewal.lines.data.filter(
      (line) => line.pricing?.price_details?.price === overagePrice?.id,
    );
    expect(overage.map((line) => [line.quantity, line.amount])).toEqual([[250, 250]]);
    expect(renewal).toMatchObject({ amount_due: 1900 + 250, currency: 'usd', status: 'paid' });
  });
});
