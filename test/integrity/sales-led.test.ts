import { codeOf, startWorld, type World } from './world';

/**
 * A sales-led (enterprise) subscription follows a contract (docs/billing-rules.md, row "sales-led"): the customer
 * cannot downgrade, cancel or resume it; support (an admin) can.
 */
describe('sales-led subscriptions', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(() => world.stop());

  it('change only through an admin', async () => {
    const { stripe } = world.stack;
    const quinn = await world.customer(`acct_enterprise_${Date.now().toString(36)}`);
    const product = await stripe.products.retrieve('prod_coditect_enterprise');
    const contract = await stripe.prices.create({
      product: product.id,
      currency: 'usd',
      unit_amount: 250_000,
      recurring: { interval: 'month' },
    });
    const created = await quinn.admin(
      'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { plan { key } status } }',
      {
        input: {
          planKey: 'enterprise',
          customPriceId: contract.id,
          accountId: quinn.accountId,
          paymentMethodId: 'pm_card_visa',
        },
      },
    );
    expect(created.errors).toBeUndefined();
    expect((await quinn.viewer()).plan).toBe('enterprise');

    for (const attempt of [
      await quinn.change({ planKey: 'starter' }),
      await quinn.change({ planKey: 'starter', applyAt: 'IMMEDIATELY' }),
      await quinn.cancel(false),
      await quinn.cancel(true),
    ])
      expect(codeOf(attempt)).toBe('FORBIDDEN');
    expect((await quinn.viewer()).subscription).toMatchObject({ status: 'ACTIVE', cancelAtPeriodEnd: false });

    const byAdmin = await quinn.cancel(true, 'admin');
    expect(byAdmin.data?.cancelSubscription.cancelAtPeriodEnd).toBe(true);
    expect(codeOf(await quinn.resume())).toBe('FORBIDDEN');
    const resumed = await quinn.admin(
      'mutation($id: ID) { resumeSubscription(accountId: $id) { cancelAtPeriodEnd } }',
      {
        id: quinn.accountId,
      },
    );
    expect(resumed.data).toEqual({ resumeSubscription: { cancelAtPeriodEnd: false } });
  });
});
