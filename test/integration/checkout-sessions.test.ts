import type Stripe from 'stripe';
import { BillingCustomer, CheckoutSessionRecord, Subscription, WebhookEvent } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { emulatorPost, setWebhookMode } from '../support/webhook-harness';

/**
 * Checkout and the one-paid-subscription rule: createCheckoutSession looks in Stripe under the account lock, never
 * hands back a session that can no longer be paid, and records every session it makes; only a recorded session
 * is ever linked to an account (checkout.session.completed and checkoutSession(id)).
 */

const ALLOWED = 'http://localhost:3000';
const CREATE = `mutation { createCheckoutSession(input: { planKey: "starter", successUrl: "${ALLOWED}/ok", cancelUrl: "${ALLOWED}/no" }) { id status url } }`;

interface Created {
  createCheckoutSession: { id: string; status: string; url: string };
}

describe('createCheckoutSession: one paid subscription per account', () => {
  let stack: BillingStack;

  // No webhooks: what our database knows is only what the service itself wrote.
  beforeAll(async () => {
    stack = await startBillingStack({ BILLING_ALLOWED_REDIRECT_ORIGINS: ALLOWED });
  });
  afterAll(() => stack.stop());

  const em = () => stack.app.orm.em.fork();

  async function starterPrice(): Promise<Stripe.Price> {
    return (await stack.stripe.prices.list({ lookup_keys: ['price_starter_monthly'] })).data[0];
  }

  async function customerOf(accountId: string): Promise<string> {
    const row = await em().findOneOrFail(BillingCustomer, { accountId });
    return row.stripeCustomerId as string;
  }

  it('refuses CONFLICT when Stripe has a live subscription our database has not heard of, and stores it', async () => {
    const gql = await stack.as('acct_checkout_stripe_only');
    // The account's customer exists (a first checkout made it); then a subscription appears in Stripe only,
    // as when another tab's checkout was paid and its webhook is still on its way.
    const first = await gql<Created>(CREATE);
    expect(first.errors).toBeUndefined();
    const subscription = await stack.stripe.subscriptions.create({
      customer: await customerOf('acct_checkout_stripe_only'),
      items: [{ price: (await starterPrice()).id }],
      trial_period_days: 14,
      metadata: { account_id: 'acct_checkout_stripe_only' },
    });
    expect(await em().count(Subscription, { accountId: 'acct_checkout_stripe_only' })).toBe(0);

    const second = await gql<Created>(CREATE);
    expect(second.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const stored = await em().findOneOrFail(Subscription, { accountId: 'acct_checkout_stripe_only' });
    expect(stored).toMatchObject({ stripeSubscriptionId: subscription.id, status: 'trialing' });
  });

  /** A live subscription in Stripe only, pushed to the list's second page by 100 newer ended ones. */
  async function liveBehindEnded(account: string) {
    const gql = await stack.as(account);
    expect((await gql<Created>(CREATE)).errors).toBeUndefined();
    const customer = await customerOf(account);
    const price = (await starterPrice()).id;
    const live = await stack.stripe.subscriptions.create({
      customer,
      items: [{ price }],
      trial_period_days: 14,
      metadata: { account_id: account },
    });
    // Stripe lists newest first, 100 at most a page.
    for (let i = 0; i < 100; i++) {
      const ended = await stack.stripe.subscriptions.create({
        customer,
        items: [{ price }],
        trial_period_days: 14,
      });
      await stack.stripe.subscriptions.cancel(ended.id);
    }
    return { gql, live };
  }

  it('finds the live subscription behind a hundred newer ended ones in Stripe: checkout refuses CONFLICT', async () => {
    const { gql, live } = await liveBehindEnded('acct_checkout_behind_ended');
    const second = await gql<Created>(CREATE);
    expect(second.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(await em().findOneOrFail(Subscription, { accountId: 'acct_checkout_behind_ended' })).toMatchObject(
      {
        stripeSubscriptionId: live.id,
      },
    );
  });

  it('finds the live subscription behind a hundred newer ended ones in Stripe: createSubscription refuses CONFLICT', async () => {
    const { gql, live } = await liveBehindEnded('acct_create_behind_ended');
    const direct = await gql(
      'mutation { createSubscription(input: { planKey: "starter", interval: MONTH, paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(direct.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(await em().findOneOrFail(Subscription, { accountId: 'acct_create_behind_ended' })).toMatchObject({
      stripeSubscriptionId: live.id,
    });
  });

  it('refuses CONFLICT while another change of the account holds its lock', async () => {
    const gql = await stack.as('acct_checkout_locked');
    expect((await gql<Created>(CREATE)).errors).toBeUndefined();
    // A createSubscription of the same account in flight (on this or another instance) holds the claim.
    await em().nativeUpdate(
      BillingCustomer,
      { accountId: 'acct_checkout_locked' },
      { changeLockedUntil: new Date(Date.now() + 60_000) },
    );
    const sessionsBefore = await stack.stripe.checkout.sessions.list({
      customer: await customerOf('acct_checkout_locked'),
      limit: 100,
    });
    const refused = await gql<Created>(CREATE.replace('"starter"', '"professional"'));
    expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const sessionsAfter = await stack.stripe.checkout.sessions.list({
      customer: await customerOf('acct_checkout_locked'),
      limit: 100,
    });
    expect(sessionsAfter.data.map((session) => session.id)).toEqual(
      sessionsBefore.data.map((session) => session.id),
    );
    await em().nativeUpdate(
      BillingCustomer,
      { accountId: 'acct_checkout_locked' },
      { changeLockedUntil: null },
    );
  });

  it('never hands back an expired session from the retry window: a new open one, recorded', async () => {
    const gql = await stack.as('acct_checkout_expired');
    const first = (await gql<Created>(CREATE)).data?.createCheckoutSession;
    expect(first?.status).toBe('open');
    // The user left; the session expired (or another flow expired it) within the ten minutes.
    await stack.stripe.checkout.sessions.expire(first?.id as string);

    const second = (await gql<Created>(CREATE)).data?.createCheckoutSession;
    expect(second?.id).toBeDefined();
    expect(second?.id).not.toBe(first?.id);
    expect(second?.status).toBe('open');
    expect((await stack.stripe.checkout.sessions.retrieve(second?.id as string)).status).toBe('open');
    // A retry of that request now lands on the same new session, not on a third.
    const third = (await gql<Created>(CREATE)).data?.createCheckoutSession;
    expect(third?.id).toBe(second?.id);

    const records = await em().find(
      CheckoutSessionRecord,
      { accountId: 'acct_checkout_expired' },
      { orderBy: { createdAt: 'asc' } },
    );
    expect(records.map((record) => record.stripeSessionId)).toEqual([first?.id, second?.id]);
    expect(records[1]).toMatchObject({ planKey: 'starter', interval: 'month', withTrial: false });
  });

  it('never hands back a completed session either (paid, then the subscription was cancelled)', async () => {
    const gql = await stack.as('acct_checkout_completed');
    const first = (await gql<Created>(CREATE)).data?.createCheckoutSession;
    const completed = (await emulatorPost(
      stack.emulator.url,
      `/_emulator/checkout/sessions/${first?.id}/complete`,
      { card: '4242424242424242' },
    )) as Stripe.Checkout.Session;
    await stack.stripe.subscriptions.cancel(completed.subscription as string);

    const second = (await gql<Created>(CREATE)).data?.createCheckoutSession;
    expect(second?.id).not.toBe(first?.id);
    expect(second?.status).toBe('open');
    expect((await stack.stripe.checkout.sessions.retrieve(second?.id as string)).status).toBe('open');
  });

  it('checkoutSession(id) is NOT_FOUND for a session this service did not create, whatever it names', async () => {
    const gql = await stack.as('acct_checkout_foreign_read');
    // A Payment Link or a Dashboard session can put any account in client_reference_id.
    const foreign = await stack.stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price: (await starterPrice()).id, quantity: 1 }],
      client_reference_id: 'acct_checkout_foreign_read',
      success_url: `${ALLOWED}/ok`,
      cancel_url: `${ALLOWED}/no`,
    });
    await emulatorPost(stack.emulator.url, `/_emulator/checkout/sessions/${foreign.id}/complete`, {
      card: '4242424242424242',
      email: 'stranger@example.com',
    });
    const read = await gql(`{ checkoutSession(id: "${foreign.id}") { status } }`);
    expect(read.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(await em().count(Subscription, { accountId: 'acct_checkout_foreign_read' })).toBe(0);
  });
});

describe('checkout.session.completed links only the sessions this service created', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack(
      { BILLING_ALLOWED_REDIRECT_ORIGINS: ALLOWED, RECONCILE_INTERVAL_MS: '0' },
      { webhooks: true },
    );
    // The stranger's customer never links: its events are answered 500 and retried, quickly here.
    await setWebhookMode(stack.emulator.url, { retry_schedule_ms: [100, 200, 400] });
  });
  afterAll(() => stack.stop());

  const em = () => stack.app.orm.em.fork();

  it("keeps a stranger's completed session as ignored with the reason, and attaches nothing to the account it names", async () => {
    // The victim has an account with a customer of its own.
    const victim = await stack.as('acct_checkout_victim');
    expect((await victim(CREATE)).errors).toBeUndefined();
    const victimCustomer = (await em().findOneOrFail(BillingCustomer, { accountId: 'acct_checkout_victim' }))
      .stripeCustomerId;

    const price = (await stack.stripe.prices.list({ lookup_keys: ['price_professional_monthly'] })).data[0];
    const foreign = await stack.stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price: price.id, quantity: 1 }],
      client_reference_id: 'acct_checkout_victim',
      success_url: `${ALLOWED}/ok`,
      cancel_url: `${ALLOWED}/no`,
    });
    await emulatorPost(stack.emulator.url, `/_emulator/checkout/sessions/${foreign.id}/complete`, {
      card: '4242424242424242',
      email: 'stranger@example.com',
    });
    await stack.flushWebhooks();

    const [completed] = await em().find(WebhookEvent, {
      type: 'checkout.session.completed',
      objectId: foreign.id,
    });
    expect(completed).toMatchObject({ status: 'ignored' });
    expect(completed.lastError).toMatch(/was not created by this service/);
    const row = await em().findOneOrFail(BillingCustomer, { accountId: 'acct_checkout_victim' });
    expect(row.stripeCustomerId).toBe(victimCustomer);
    expect(await em().count(Subscription, { accountId: 'acct_checkout_victim' })).toBe(0);
    const viewer = await victim<{ viewer: { plan: { key: string } } }>('{ viewer { plan { key } } }');
    expect(viewer.data?.viewer.plan.key).toBe('free');
  });

  it('links a session it created, and the subscription is the account’s', async () => {
    const gql = await stack.as('acct_checkout_ours');
    const created = (await gql<Created>(CREATE)).data?.createCheckoutSession;
    await emulatorPost(stack.emulator.url, `/_emulator/checkout/sessions/${created?.id}/complete`, {
      card: '4242424242424242',
    });
    await stack.flushWebhooks();
    const [completed] = await em().find(WebhookEvent, {
      type: 'checkout.session.completed',
      objectId: created?.id,
    });
    expect(completed).toMatchObject({ status: 'processed', lastError: null });
    expect(await em().findOneOrFail(Subscription, { accountId: 'acct_checkout_ours' })).toMatchObject({
      status: 'active',
      planKey: 'starter',
    });
  });
});
