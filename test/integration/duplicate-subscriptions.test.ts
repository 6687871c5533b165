import type Stripe from 'stripe';
import {
  BillingCustomer,
  DuplicateSubscription,
  Entitlement,
  Notification,
  Subscription,
} from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { fakeEvent, postWebhook, setWebhookMode, signEvent } from '../support/webhook-harness';

/**
 * One paid subscription per account, always: a second live subscription that still arrives (two tabs each
 * paying a Checkout, a slow webhook) is found on its webhook, cancelled at once and refunded in full (a trial is
 * cancelled without a refund), the customer is mailed, and it is counted, once, however often and however
 * concurrently its events are delivered.
 */
describe('duplicate subscriptions', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack({ RECONCILE_INTERVAL_MS: '0' }, { webhooks: true });
    await setWebhookMode(stack.emulator.url, { retry_schedule_ms: [100, 200, 400, 800] });
  });
  afterAll(() => stack.stop());

  const em = () => stack.service.service.orm.em.fork();

  async function price(lookupKey: string): Promise<Stripe.Price> {
    return (await stack.stripe.prices.list({ lookup_keys: [lookupKey] })).data[0];
  }

  async function stripeCustomerOf(accountId: string): Promise<string> {
    return (await em().findOneOrFail(BillingCustomer, { accountId })).stripeCustomerId as string;
  }

  async function duplicatesCounted(refunded: 'true' | 'false'): Promise<number> {
    const body = await (await fetch(`${stack.service.url}/metrics`)).text();
    const line = body
      .split('\n')
      .find((candidate) =>
        candidate.startsWith(`billing_duplicate_subscriptions_total{refunded="${refunded}"}`),
      );
    return Number(line?.split(' ').at(-1) ?? Number.NaN);
  }

  async function deliver(type: string, object: object): Promise<{ status: number; outcome: string | null }> {
    return postWebhook(stack.service.url, signEvent(fakeEvent(type, object), stack.webhookSecret as string));
  }

  it('cancels a trialing duplicate without a refund, keeps the first, mails once and counts once', async () => {
    const accountId = 'acct_duplicate_trial';
    const gql = await stack.as(accountId);
    const first = await gql<{ createSubscription: { id: string } }>(
      'mutation { createSubscription(input: { planKey: "starter", withTrial: true, paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(first.errors).toBeUndefined();
    const keptId = first.data?.createSubscription.id as string;
    await stack.flushWebhooks();
    const before = await duplicatesCounted('false');

    // A second trial of the same account reaches Stripe (made elsewhere, with our metadata).
    const second = await stack.stripe.subscriptions.create({
      customer: await stripeCustomerOf(accountId),
      items: [{ price: (await price('price_professional_monthly')).id }],
      trial_period_days: 14,
      metadata: { account_id: accountId },
    });
    await stack.flushWebhooks();

    const duplicate = await stack.stripe.subscriptions.retrieve(second.id);
    expect(duplicate.status).toBe('canceled');
    expect(duplicate.metadata.duplicate_of).toBe(keptId);
    expect((await stack.stripe.subscriptions.retrieve(keptId)).status).toBe('trialing');
    expect(await em().find(DuplicateSubscription, { accountId })).toEqual([
      expect.objectContaining({
        stripeSubscriptionId: second.id,
        keptSubscriptionId: keptId,
        amountRefunded: 0,
      }),
    ]);
    const mails = await em().find(Notification, { accountId });
    expect(mails.map((mail) => mail.kind)).toEqual(['duplicate_subscription_canceled']);
    expect(mails[0].data).toMatchObject({
      subscriptionId: second.id,
      keptSubscriptionId: keptId,
      amountRefunded: 0,
      wasTrialing: true,
    });
    // The account keeps its first subscription's plan.
    const rows = await em().find(Subscription, { accountId }, { orderBy: { createdAt: 'asc' } });
    expect(rows.map((row) => [row.stripeSubscriptionId, row.status])).toEqual([
      [keptId, 'trialing'],
      [second.id, 'canceled'],
    ]);
    const entitlements = await em().find(Entitlement, { accountId });
    expect(entitlements.find((row) => row.featureKey === 'team_collaboration')?.enabled).toBe(false);
    expect(await duplicatesCounted('false')).toBe(before + 1);

    // Its events delivered again (a redelivery, the reconciler): nothing more happens.
    expect((await deliver('customer.subscription.created', second)).outcome).toBe('processed');
    expect((await deliver('customer.subscription.deleted', duplicate)).outcome).toBe('processed');
    expect(await em().count(DuplicateSubscription, { accountId })).toBe(1);
    expect(await em().count(Notification, { accountId })).toBe(1);
    expect(await duplicatesCounted('false')).toBe(before + 1);
  });

  it('never cancels a subscription of the customer that this service did not make', async () => {
    const accountId = 'acct_duplicate_foreign';
    const gql = await stack.as(accountId);
    const first = await gql<{ createSubscription: { id: string } }>(
      'mutation { createSubscription(input: { planKey: "starter", withTrial: true, paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(first.errors).toBeUndefined();
    await stack.flushWebhooks();
    // Made by hand in the Dashboard for the same customer, without our metadata: not ours to cancel.
    const byHand = await stack.stripe.subscriptions.create({
      customer: await stripeCustomerOf(accountId),
      items: [{ price: (await price('price_starter_monthly')).id }],
      trial_period_days: 7,
    });
    await stack.flushWebhooks();
    expect((await stack.stripe.subscriptions.retrieve(byHand.id)).status).toBe('trialing');
    expect(await em().count(DuplicateSubscription, { accountId })).toBe(0);
  });
});
