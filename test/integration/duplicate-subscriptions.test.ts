import type Stripe from 'stripe';
import {
  BillingCustomer,
  DuplicateSubscription,
  Entitlement,
  Invoice,
  Notification,
  Subscription,
} from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { emulatorPost, fakeEvent, setWebhookMode } from '../support/webhook-harness';

/**
 * One paid subscription per account, always: a second live subscription that still arrives (two tabs each
 * paying a Checkout, a slow webhook) is found on its webhook, cancelled at once and refunded in full (a trial is
 * cancelled without a refund), the customer is mailed, and it is counted, once, however often and however
 * concurrently its events are delivered.
 */
describe('duplicate subscriptions', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack(
      { RECONCILE_INTERVAL_MS: '0', BILLING_ALLOWED_REDIRECT_ORIGINS: 'http://localhost:3000' },
      { webhooks: true },
    );
    await setWebhookMode(stack.emulator.url, { retry_schedule_ms: [100, 200, 400, 800] });
  });
  afterAll(() => stack.stop());

  const em = () => stack.app.orm.em.fork();

  async function price(lookupKey: string): Promise<Stripe.Price> {
    return (await stack.stripe.prices.list({ lookup_keys: [lookupKey] })).data[0];
  }

  async function stripeCustomerOf(accountId: string): Promise<string> {
    return (await em().findOneOrFail(BillingCustomer, { accountId })).stripeCustomerId as string;
  }

  async function duplicatesCounted(refunded: 'true' | 'false'): Promise<number> {
    const body = await (await fetch(`${stack.url}/metrics`)).text();
    const line = body
      .split('\n')
      .find((candidate) =>
        candidate.startsWith(`billing_duplicate_subscriptions_total{refunded="${refunded}"}`),
      );
    return Number(line?.split(' ').at(-1) ?? Number.NaN);
  }

  /** Delivers a signed event and waits until it is processed; the HTTP status and the event's inbox status. */
  async function deliver(type: string, object: object): Promise<{ status: number; outcome: string | null }> {
    const { status, settled } = await stack.deliverWebhook(fakeEvent(type, object));
    return { status, outcome: settled };
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

  it('refunds a paid duplicate in full and cancels it at once; the first stays, its plan too', async () => {
    const accountId = 'acct_duplicate_paid';
    const gql = await stack.as(accountId);
    const first = await gql<{ createSubscription: { id: string } }>(
      'mutation { createSubscription(input: { planKey: "starter", paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(first.errors).toBeUndefined();
    const keptId = first.data?.createSubscription.id as string;
    await stack.flushWebhooks();
    const before = await duplicatesCounted('true');

    // A second, paid subscription of the same account reaches Stripe (charged $49.00 at once).
    const second = await stack.stripe.subscriptions.create({
      customer: await stripeCustomerOf(accountId),
      items: [{ price: (await price('price_professional_monthly')).id }],
      metadata: { account_id: accountId },
    });
    expect(second.status).toBe('active');
    await stack.flushWebhooks();

    const duplicate = await stack.stripe.subscriptions.retrieve(second.id);
    expect(duplicate.status).toBe('canceled');
    const invoiceId = duplicate.latest_invoice as string;
    const [payment] = (await stack.stripe.invoicePayments.list({ invoice: invoiceId })).data;
    const refunds = await stack.stripe.refunds.list({
      payment_intent: payment.payment.payment_intent as string,
    });
    expect(refunds.data.map((refund) => [refund.amount, refund.reason, refund.status])).toEqual([
      [4900, 'duplicate', 'succeeded'],
    ]);
    // The kept subscription is untouched: its payment not refunded, still active.
    const kept = await stack.stripe.subscriptions.retrieve(keptId);
    expect(kept.status).toBe('active');
    const [keptPayment] = (
      await stack.stripe.invoicePayments.list({ invoice: kept.latest_invoice as string })
    ).data;
    expect(
      (await stack.stripe.refunds.list({ payment_intent: keptPayment.payment.payment_intent as string }))
        .data,
    ).toEqual([]);

    expect(
      await em().findOneOrFail(DuplicateSubscription, { stripeSubscriptionId: second.id }),
    ).toMatchObject({
      accountId,
      keptSubscriptionId: keptId,
      amountRefunded: 4900,
      currency: 'usd',
    });
    const mails = await em().find(Notification, { accountId });
    expect(mails.map((mail) => mail.kind)).toEqual(['duplicate_subscription_canceled']);
    expect(mails[0].data).toMatchObject({ amountRefunded: 4900, currency: 'USD', wasTrialing: false });
    // charge.refunded reached the duplicate's invoice too: it stays paid, with what was refunded beside it.
    expect(await em().findOneOrFail(Invoice, { stripeInvoiceId: invoiceId })).toMatchObject({
      status: 'paid',
      amountPaid: 4900,
      amountRefunded: 4900,
    });
    const viewer = await gql<{ viewer: { plan: { key: string }; subscription: { id: string } } }>(
      '{ viewer { plan { key } subscription { id } } }',
    );
    expect(viewer.data?.viewer).toEqual({ plan: { key: 'starter' }, subscription: { id: keptId } });
    expect(await duplicatesCounted('true')).toBe(before + 1);
  });

  it('settles a duplicate once when its events arrive at the same moment on several deliveries', async () => {
    const accountId = 'acct_duplicate_concurrent';
    const gql = await stack.as(accountId);
    const first = await gql<{ createSubscription: { id: string } }>(
      'mutation { createSubscription(input: { planKey: "starter", paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(first.errors).toBeUndefined();
    await stack.flushWebhooks();
    const before = await duplicatesCounted('true');
    const second = await stack.stripe.subscriptions.create({
      customer: await stripeCustomerOf(accountId),
      items: [{ price: (await price('price_starter_yearly')).id }],
      metadata: { account_id: accountId },
    });
    // Its created and updated events, each delivered three times at once (as two instances and a retry would
    // see them), racing Stripe's own deliveries, all looking at the same duplicate.
    const answers = await Promise.all(
      ['customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.created']
        .flatMap((type) => [type, type, type])
        .map((type) => deliver(type, second)),
    );
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    await stack.flushWebhooks();

    expect((await stack.stripe.subscriptions.retrieve(second.id)).status).toBe('canceled');
    const invoiceId = second.latest_invoice as string;
    const [payment] = (await stack.stripe.invoicePayments.list({ invoice: invoiceId })).data;
    const refunds = await stack.stripe.refunds.list({
      payment_intent: payment.payment.payment_intent as string,
    });
    expect(refunds.data.map((refund) => refund.amount)).toEqual([19000]);
    expect(await em().count(DuplicateSubscription, { accountId })).toBe(1);
    expect(await em().count(Notification, { accountId, kind: 'duplicate_subscription_canceled' })).toBe(1);
    expect(await duplicatesCounted('true')).toBe(before + 1);
  });

  it('finds a duplicate paid through a second Checkout (two tabs) on its webhooks, and refunds it', async () => {
    const accountId = 'acct_duplicate_two_tabs';
    const gql = await stack.as(accountId);
    const tabOne = await gql<{ createCheckoutSession: { id: string } }>(
      'mutation { createCheckoutSession(input: { planKey: "starter", successUrl: "http://localhost:3000/ok", cancelUrl: "http://localhost:3000/no" }) { id } }',
    );
    expect(tabOne.errors).toBeUndefined();
    // The second tab's session: made by this service on another instance in the same instant, before either
    // expired the other (the lock makes that a race we cannot produce on one instance, so it is made directly
    // and recorded as the service records its sessions).
    const customer = await stripeCustomerOf(accountId);
    const professional = await price('price_professional_monthly');
    const tabTwo = await stack.stripe.checkout.sessions.create({
      mode: 'subscription',
      customer,
      client_reference_id: accountId,
      line_items: [{ price: professional.id, quantity: 1 }],
      subscription_data: { metadata: { account_id: accountId, plan_key: 'professional' } },
      metadata: { account_id: accountId, plan_key: 'professional' },
      success_url: 'http://localhost:3000/ok',
      cancel_url: 'http://localhost:3000/no',
    });
    await stack.app.services.checkoutRecords.record(em(), {
      stripeSessionId: tabTwo.id,
      accountId,
      planKey: 'professional',
      interval: 'month',
      withTrial: false,
    });

    // Both tabs pay, one after the other.
    const paidFirst = (await emulatorPost(
      stack.emulator.url,
      `/_emulator/checkout/sessions/${tabOne.data?.createCheckoutSession.id}/complete`,
      { card: '4242424242424242' },
    )) as Stripe.Checkout.Session;
    const paidSecond = (await emulatorPost(
      stack.emulator.url,
      `/_emulator/checkout/sessions/${tabTwo.id}/complete`,
      { card: '4242424242424242' },
    )) as Stripe.Checkout.Session;
    await stack.flushWebhooks();

    expect((await stack.stripe.subscriptions.retrieve(paidFirst.subscription as string)).status).toBe(
      'active',
    );
    const duplicate = await stack.stripe.subscriptions.retrieve(paidSecond.subscription as string);
    expect(duplicate.status).toBe('canceled');
    expect(await em().findOneOrFail(DuplicateSubscription, { accountId })).toMatchObject({
      stripeSubscriptionId: duplicate.id,
      keptSubscriptionId: paidFirst.subscription,
      amountRefunded: 4900,
    });
    const viewer = await gql<{ viewer: { plan: { key: string } } }>('{ viewer { plan { key } } }');
    expect(viewer.data?.viewer.plan.key).toBe('starter');
  });

  it('never cancels a subscription of the customer that this service did not make', async () => {
    const accountId = 'acct_duplicate_foreign';
    const gql = await stack.as(accountId);
    // Another card than the first test's: one trial per card.
    const first = await gql<{ createSubscription: { id: string } }>(
      'mutation { createSubscription(input: { planKey: "starter", withTrial: true, paymentMethodId: "pm_card_mastercard" }) { id } }',
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
