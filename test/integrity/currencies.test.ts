import { codeOf, DAY, lastInvoice, linesOf, startWorld, type World } from './world';

/**
 * Currencies (docs/billing-rules.md rows 53–55, ADR 0024): the customer's currency is chosen once (its input, else
 * its billing country: euro-area countries pay EUR, else USD) and kept; a second currency is refused before Stripe
 * would refuse it; every price exists in each currency of plans/plans.yaml (starter $19.00 / €18.00, professional
 * $49.00 / €45.00 a month), and Stripe's invoices charge that currency's amount, prorations included.
 */
describe('currencies', () => {
  let world: World;
  const run = Date.now().toString(36);
  const urls = { successUrl: 'http://localhost:3000/ok', cancelUrl: 'http://localhost:3000/no' };
  beforeAll(async () => {
    world = await startWorld({ BILLING_ALLOWED_REDIRECT_ORIGINS: 'http://localhost:3000' });
  });
  afterAll(() => world.stop());

  type Customer = Awaited<ReturnType<World['customer']>>;

  async function moveTo(customer: Customer, country: string) {
    const answer = await customer.gql(
      'mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { email } }',
      { input: { address: { line1: 'Hauptstraße 1', city: 'Berlin', postalCode: '10115', country } } },
    );
    expect(answer.errors).toBeUndefined();
  }

  async function pricesSeen(customer: Customer) {
    const answer = await customer.gql<{
      viewer: { currency: string };
      plans: Array<{ key: string; prices: Array<{ interval: string; amount: number; currency: string }> }>;
    }>('{ viewer { currency } plans { key prices { interval amount currency } } }');
    const starter = answer.data?.plans.find((plan) => plan.key === 'starter');
    return {
      currency: answer.data?.viewer.currency,
      starterMonthly: starter?.prices.find((price) => price.interval === 'MONTH'),
    };
  }

  function subscribeIn(customer: Customer, planKey: string, currency: string | null) {
    return customer.gql<{ createSubscription: { id: string } }>(
      'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id } }',
      { input: { planKey, paymentMethodId: 'pm_card_visa', ...(currency ? { currency } : {}) } },
    );
  }

  it('a German billing address chooses EUR: €18.00 shown and charged, an upgrade prorated in EUR to the cent', async () => {
    const greta = await world.customer(`acct_currency_country_${run}`);
    await moveTo(greta, 'DE');
    expect(await pricesSeen(greta)).toEqual({
      currency: 'eur',
      starterMonthly: { interval: 'MONTH', amount: 1800, currency: 'eur' },
    });
    expect((await subscribeIn(greta, 'starter', null)).errors).toBeUndefined();
    const first = lastInvoice(await greta.invoices(), 'subscription_create');
    expect(first).toMatchObject({ currency: 'eur', total: 1800, amountPaid: 1800, status: 'paid' });
    expect(linesOf(first, 'price_starter_monthly')).toEqual([[1, 1800]]);

    const subscription = await world.stack.stripe.subscriptions.retrieve(
      (await greta.viewer()).subscription?.id as string,
    );
    const item = subscription.items.data[0];
    const start = item?.current_period_start as number;
    const end = item?.current_period_end as number;
    await world.advance(10 * DAY);
    expect((await greta.change({ planKey: 'professional' })).errors).toBeUndefined();

    // Stripe prorates by the second (https://docs.stripe.com/billing/subscriptions/prorations), each line rounded
    // once: the unused starter time credited at €18.00, the rest of the period on professional at €45.00. For a
    // 31-day period changed after 10 days: −round(1800 × 21/31) = −1219 and round(4500 × 21/31) = 3048, €18.29.
    const at = start + 10 * DAY;
    const credit = -Math.round((1800 * (end - at)) / (end - start));
    const debit = Math.round((4500 * (end - at)) / (end - start));
    const upgrade = lastInvoice(await greta.invoices(), 'subscription_update');
    expect(upgrade).toMatchObject({ currency: 'eur', status: 'paid', total: credit + debit });
    expect(upgrade.lines.map((line) => [line.price, line.amount, line.proration])).toEqual([
      ['price_starter_monthly', credit, true],
      ['price_professional_monthly', debit, true],
    ]);
    // Kept: the billing country moving to the US changes nothing.
    await moveTo(greta, 'US');
    expect((await pricesSeen(greta)).currency).toBe('eur');
  });

  it('a currency chosen once is kept: another is refused (CURRENCY_MISMATCH) before Stripe sees it', async () => {
    const pierre = await world.customer(`acct_currency_kept_${run}`);
    expect((await subscribeIn(pierre, 'starter', 'EUR')).errors).toBeUndefined();
    expect(lastInvoice(await pierre.invoices(), 'subscription_create')).toMatchObject({
      currency: 'eur',
      total: 1800,
    });
    expect((await pierre.cancel(false)).errors).toBeUndefined();
    await world.advance(0);
    const stripeCustomer = await pierre.stripeCustomerId();
    const before = await world.stack.stripe.subscriptions.list({ customer: stripeCustomer, status: 'all' });

    const inDollars = await subscribeIn(pierre, 'starter', 'usd');
    expect(codeOf(inDollars)).toBe('CURRENCY_MISMATCH');
    expect(inDollars.errors?.[0]?.extensions).toMatchObject({ currency: 'eur', requested: 'usd' });
    const checkoutInDollars = await pierre.gql(
      'mutation($input: CreateCheckoutSessionInput!) { createCheckoutSession(input: $input) { id } }',
      { input: { ...urls, planKey: 'starter', currency: 'usd' } },
    );
    expect(codeOf(checkoutInDollars)).toBe('CURRENCY_MISMATCH');
    expect(codeOf(await subscribeIn(pierre, 'starter', 'gbp'))).toBe('BAD_USER_INPUT');
    const after = await world.stack.stripe.subscriptions.list({ customer: stripeCustomer, status: 'all' });
    expect(after.data.map((each) => each.id)).toEqual(before.data.map((each) => each.id));

    // Without an input the kept currency is used: professional at €45.00.
    expect((await subscribeIn(pierre, 'professional', null)).errors).toBeUndefined();
    const again = lastInvoice(await pierre.invoices(), 'subscription_create');
    expect(again).toMatchObject({ currency: 'eur', total: 4500 });
    expect(linesOf(again, 'price_professional_monthly')).toEqual([[1, 4500]]);
  });

  it('prices in every currency; without an address or a choice the base (USD), and Checkout charges the chosen one', async () => {
    const sam = await world.customer(`acct_currency_base_${run}`);
    const all = await sam.gql<{
      plans: Array<{ key: string; prices: Array<{ amounts: Array<{ amount: number; currency: string }> }> }>;
    }>('{ plans(currency: "eur") { key prices { amount currency amounts { amount currency } } } }');
    expect(all.data?.plans.find((plan) => plan.key === 'professional')?.prices).toEqual([
      {
        amount: 4500,
        currency: 'eur',
        amounts: [
          { amount: 4900, currency: 'usd' },
          { amount: 4500, currency: 'eur' },
        ],
      },
      {
        amount: 45000,
        currency: 'eur',
        amounts: [
          { amount: 49000, currency: 'usd' },
          { amount: 45000, currency: 'eur' },
        ],
      },
    ]);
    expect(await pricesSeen(sam)).toEqual({
      currency: 'usd',
      starterMonthly: { interval: 'MONTH', amount: 1900, currency: 'usd' },
    });

    const anna = await world.customer(`acct_currency_checkout_${run}`);
    await moveTo(anna, 'AT');
    const session = await anna.gql<{ createCheckoutSession: { id: string } }>(
      'mutation($input: CreateCheckoutSessionInput!) { createCheckoutSession(input: $input) { id } }',
      { input: { ...urls, planKey: 'starter' } },
    );
    expect(session.errors).toBeUndefined();
    const inStripe = await world.stack.stripe.checkout.sessions.retrieve(
      session.data?.createCheckoutSession.id as string,
    );
    expect(inStripe).toMatchObject({ currency: 'eur', amount_total: 1800 });
    // Opening Checkout is the choice: kept from now on.
    expect(codeOf(await subscribeIn(anna, 'starter', 'usd'))).toBe('CURRENCY_MISMATCH');
  });
});
