import { codeOf, startWorld, type World } from './world';

/**
 * One paid subscription per account, and cards (docs/billing-rules.md, rows "second checkout", "declined card",
 * "default card"): a second Checkout while the first one's webhook is on its way is refused from Stripe's own
 * records; a duplicate that still gets paid is refunded in full; a declined card never decides the next attempt.
 */
describe('checkout and cards', () => {
  let world: World;
  const run = Date.now().toString(36);
  const urls = { successUrl: 'http://localhost:3000/ok', cancelUrl: 'http://localhost:3000/no' };
  beforeAll(async () => {
    world = await startWorld({ BILLING_ALLOWED_REDIRECT_ORIGINS: 'http://localhost:3000' });
  });
  afterAll(() => world.stop());

  async function checkout(customer: Awaited<ReturnType<World['customer']>>, input: Record<string, unknown>) {
    return customer.gql<{ createCheckoutSession: { id: string } }>(
      'mutation($input: CreateCheckoutSessionInput!) { createCheckoutSession(input: $input) { id } }',
      { input: { ...urls, ...input } },
    );
  }

  async function pay(sessionId: string, card = '4242424242424242'): Promise<void> {
    const response = await fetch(
      `${world.stack.emulator.url}/_emulator/checkout/sessions/${sessionId}/complete`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ card }),
      },
    );
    if (!response.ok) throw new Error(`checkout not completed: ${response.status} ${await response.text()}`);
  }

  it('a second Checkout while the first one’s webhook is on its way is refused: one subscription, charged once', async () => {
    const rosa = await world.customer(`acct_two_checkouts_${run}`);
    const first = await checkout(rosa, { planKey: 'starter' });
    expect(first.errors).toBeUndefined();
    await pay(first.data?.createCheckoutSession.id as string);
    // No webhook has been waited for: Stripe's own list of the customer's subscriptions decides.
    const second = await checkout(rosa, { planKey: 'professional' });
    expect(codeOf(second)).toBe('CONFLICT');
    await world.advance(0);
    const subscriptions = await world.stack.stripe.subscriptions.list({
      customer: await rosa.stripeCustomerId(),
    });
    expect(subscriptions.data.map((subscription) => subscription.status)).toEqual(['active']);
    expect(await rosa.totalCharged()).toBe(1900);
  });

  it('a duplicate that still gets paid (two tabs at the same instant) is refunded in full and cancelled', async () => {
    const sam = await world.customer(`acct_two_tabs_${run}`);
    const tabOne = await checkout(sam, { planKey: 'starter' });
    expect(tabOne.errors).toBeUndefined();
    // The other tab's session, made by another instance at the same instant (recorded as the service records
    // its own): the lock of one instance cannot produce this race, so it is made directly.
    const { stripe } = world.stack;
    const professional = (await stripe.prices.list({ lookup_keys: ['price_professional_monthly'] })).data[0];
    const tabTwo = await stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: await sam.stripeCustomerId(),
      client_reference_id: sam.accountId,
      line_items: [{ price: professional?.id as string, quantity: 1 }],
      subscription_data: { metadata: { account_id: sam.accountId, plan_key: 'professional' } },
      metadata: { account_id: sam.accountId, plan_key: 'professional' },
      ...{ success_url: urls.successUrl, cancel_url: urls.cancelUrl },
    });
    const services = world.stack.app.services;
    await services.checkoutRecords.record(world.stack.app.orm.em.fork(), {
      stripeSessionId: tabTwo.id,
      accountId: sam.accountId,
      planKey: 'professional',
      interval: 'month',
      withTrial: false,
    });
    await pay(tabOne.data?.createCheckoutSession.id as string);
    await pay(tabTwo.id);
    await world.advance(0);

    const customer = await sam.stripeCustomerId();
    const subscriptions = await stripe.subscriptions.list({ customer, status: 'all' });
    expect(subscriptions.data.filter((subscription) => subscription.status === 'active')).toHaveLength(1);
    const charged = await sam.totalCharged();
    expect(charged).toBe(1900 + 4900);
    const refunds = await stripe.refunds.list({ limit: 100 });
    const refundedToSam = await Promise.all(
      refunds.data.map(async (refund) => {
        const charge = await stripe.charges.retrieve(refund.charge as string);
        return charge.customer === customer ? refund.amount : 0;
      }),
    );
    // The first paid (starter) stays; the duplicate's $49.00 comes back whole: the account paid for one.
    const kept = subscriptions.data.find((subscription) => subscription.status === 'active');
    expect(kept?.items.data.map((item) => item.price.lookup_key)).toContain('price_starter_monthly');
    expect(refundedToSam.reduce((sum, amount) => sum + amount, 0)).toBe(4900);
  });

  it('a trial through Checkout is refused to an account that had one', async () => {
    const tess = await world.customer(`acct_checkout_trial_${run}`);
    expect((await tess.subscribe('starter', { trial: true, card: null })).errors).toBeUndefined();
    expect((await tess.cancel(false)).errors).toBeUndefined();
    const again = await checkout(tess, { planKey: 'starter', withTrial: true });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'TRIAL_NOT_AVAILABLE', reason: 'ACCOUNT' });
    // Without the trial, Checkout is open to it.
    expect((await checkout(tess, { planKey: 'starter' })).errors).toBeUndefined();
  });

  it('a Checkout trial on a card that had a trial on another account ends at once, and the plan is charged', async () => {
    const walt = await world.customer(`acct_trial_card_first_${run}`);
    // 4000 0566 5566 5556 (Visa debit): its first trial, on walt's account.
    expect(
      (await walt.subscribe('starter', { trial: true, card: 'pm_card_visa_debit' })).errors,
    ).toBeUndefined();
    const xena = await world.customer(`acct_trial_card_again_${run}`);
    const session = await checkout(xena, { planKey: 'starter', withTrial: true });
    expect(session.errors).toBeUndefined();
    await pay(session.data?.createCheckoutSession.id as string, '4000056655665556');
    await world.advance(0);
    expect((await xena.viewer()).subscription?.status).toBe('ACTIVE');
    expect(await xena.totalCharged()).toBe(1900);
    // The first account keeps its trial.
    expect((await walt.viewer()).subscription?.status).toBe('TRIALING');
  });

  it('a declined card never decides the next attempt: a good card right after subscribes, charged once', async () => {
    const uma = await world.customer(`acct_declined_then_good_${run}`);
    // Attaches, then every charge fails (4000 0000 0000 0341).
    expect(codeOf(await uma.subscribe('starter', { card: 'pm_card_chargeCustomerFail' }))).toBe(
      'CARD_DECLINED',
    );
    // Refused already at attach (4000 0000 0000 0002).
    expect(codeOf(await uma.subscribe('starter', { card: 'pm_card_visa_chargeDeclined' }))).toBe(
      'CARD_DECLINED',
    );
    const good = await uma.subscribe('starter', { card: 'pm_card_visa' });
    expect(good.errors).toBeUndefined();
    expect(good.data?.createSubscription.status).toBe('ACTIVE');
    const subscriptions = await world.stack.stripe.subscriptions.list({
      customer: await uma.stripeCustomerId(),
      status: 'all',
    });
    expect(subscriptions.data.map((subscription) => subscription.status)).toEqual(['active']);
    expect(await uma.totalCharged()).toBe(1900);
  });

  it('the default card is the one named last, also after A, B and A again', async () => {
    const vic = await world.customer(`acct_default_card_${run}`);
    const { stripe } = world.stack;
    const cardA = await stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_visa' } });
    const cardB = await stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_mastercard' } });
    for (const card of [cardA, cardB, cardA]) {
      const subscribed = await vic.subscribe('starter', { card: card.id });
      expect(subscribed.errors).toBeUndefined();
      const customer = await stripe.customers.retrieve(await vic.stripeCustomerId());
      expect(!customer.deleted && customer.invoice_settings.default_payment_method).toBe(card.id);
      expect((await vic.cancel(false)).errors).toBeUndefined();
    }
  });
});
