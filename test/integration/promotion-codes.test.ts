import { idOf } from '../../src/services/stripe/expandable';
import type Stripe from 'stripe';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { emulatorPost } from '../support/webhook-harness';

/**
 * Promotion codes (issue 16, item 3), against the emulator to the cent: LAUNCH20 from plans/plans.yaml (20 % off
 * for 3 months, Starter and Professional) at Checkout and on a live subscription, the discount on the
 * subscription, the next bill and the invoices, and every reason a code is refused, before anything is written.
 */

const ALLOWED = 'http://localhost:3000';
const DAY = 24 * 60 * 60;
const DISCOUNT = 'discount { code name percentOff amountOff currency duration endsAt }';

interface Refusal {
  message: string;
  extensions?: Record<string, unknown>;
}

describe('promotion codes', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack({ BILLING_ALLOWED_REDIRECT_ORIGINS: ALLOWED }, { webhooks: true });
  });
  afterAll(() => stack.stop());

  async function checkout(accountId: string, extra = '') {
    const gql = await stack.as(accountId);
    const answer = await gql<{ createCheckoutSession: { id: string } }>(
      `mutation { createCheckoutSession(input: { planKey: "starter", successUrl: "${ALLOWED}/ok", cancelUrl: "${ALLOWED}/no"${extra} }) { id } }`,
    );
    return { gql, answer };
  }

  async function subscribe(accountId: string, planKey: string) {
    const gql = await stack.as(accountId);
    const result = await gql<{ createSubscription: { id: string } }>(
      `mutation { createSubscription(input: { planKey: "${planKey}", paymentMethodId: "pm_card_visa" }) { id } }`,
    );
    expect(result.errors).toBeUndefined();
    await stack.flushWebhooks();
    return { gql, subscriptionId: result.data?.createSubscription.id as string };
  }

  async function apply(gql: Awaited<ReturnType<BillingStack['as']>>, code: string) {
    return gql<{ applyPromotionCode: { id: string; discount: Record<string, unknown> | null } }>(
      `mutation { applyPromotionCode(input: { code: "${code}" }) { id ${DISCOUNT} } }`,
    );
  }

  /** The subscription's invoices, oldest first, as Stripe issued them. */
  async function invoicesOf(subscriptionId: string): Promise<Stripe.Invoice[]> {
    const listed = await stack.stripe.invoices.list({ subscription: subscriptionId, limit: 100 });
    return [...listed.data].sort((a, b) => a.created - b.created);
  }

  /** Moves Stripe's clock just past the subscription's period end: one renewal. */
  async function renew(subscriptionId: string): Promise<void> {
    const subscription = await stack.stripe.subscriptions.retrieve(subscriptionId);
    const end = subscription.items.data[0]?.current_period_end as number;
    const now = await emulatorNow();
    await stack.advanceClock(end - now + 60);
    await stack.flushWebhooks();
  }

  /** Stripe's now, in unix seconds (the emulator's clock, which tests move). */
  async function emulatorNow(): Promise<number> {
    const response = await fetch(`${stack.emulator.url}/_emulator/clock`);
    return ((await response.json()) as { now: number }).now;
  }

  it('Checkout with LAUNCH20: $19.00 − 20 % = $15.20 on the first invoice and the next two renewals, $19.00 on the fourth', async () => {
    // Any case: Stripe matches codes regardless of case (the PromotionCode object's `code`).
    const { gql, answer } = await checkout('acct_promo_checkout', ', promotionCode: "launch20"');
    expect(answer.errors).toBeUndefined();
    const sessionId = answer.data?.createCheckoutSession.id as string;
    const session = await stack.stripe.checkout.sessions.retrieve(sessionId);
    const [launch] = (await stack.stripe.promotionCodes.list({ code: 'LAUNCH20' })).data;
    expect(session.discounts).toEqual([expect.objectContaining({ promotion_code: launch?.id })]);
    expect(session.amount_total).toBe(1520);

    const completed = (await emulatorPost(
      stack.emulator.url,
      `/_emulator/checkout/sessions/${sessionId}/complete`,
      {
        card: '4242424242424242',
      },
    )) as Stripe.Checkout.Session;
    await stack.flushWebhooks();
    const subscriptionId = completed.subscription as string;

    const viewer = await gql<{ viewer: { subscription: { discount: Record<string, unknown> } } }>(
      `{ viewer { subscription { ${DISCOUNT} } } }`,
    );
    expect(viewer.errors).toBeUndefined();
    expect(viewer.data?.viewer.subscription.discount).toMatchObject({
      code: 'LAUNCH20',
      percentOff: 20,
      amountOff: null,
      duration: 'repeating',
      endsAt: expect.any(String),
    });
    const upcoming = await gql<{ viewer: { upcomingInvoice: Record<string, number> } }>(
      '{ viewer { upcomingInvoice { subtotal discount total } } }',
    );
    expect(upcoming.data?.viewer.upcomingInvoice).toEqual({ subtotal: 1900, discount: 380, total: 1520 });

    // A repeating coupon applies to every invoice created before the discount's end, `duration_in_months` after
    // it started (https://docs.stripe.com/billing/subscriptions/coupons#coupon-duration): the invoices at the
    // start, +1 and +2 months; the one at +3 months is created at the end and pays the full price.
    // The first invoice in full through the API: the discount on its plan line and in its totals.
    const [first] = await invoicesOf(subscriptionId);
    const details = await gql<{
      viewer: {
        invoice: {
          subtotal: number;
          discount: number;
          total: number;
          lines: Array<{ amount: number; discountAmount: number }>;
        };
      };
    }>(
      `{ viewer { invoice(id: "${first?.id}") { subtotal discount total lines { amount discountAmount } } } }`,
    );
    expect(details.errors).toBeUndefined();
    expect(details.data?.viewer.invoice).toMatchObject({ subtotal: 1900, discount: 380, total: 1520 });
    expect(details.data?.viewer.invoice.lines).toContainEqual({ amount: 1900, discountAmount: 380 });

    for (let renewal = 0; renewal < 3; renewal++) await renew(subscriptionId);
    const price = 1900;
    const discounted = price - Math.round((price * 20) / 100);
    expect(discounted).toBe(1520);
    const invoices = await invoicesOf(subscriptionId);
    // (The fourth is still a draft: Stripe finalizes a renewal an hour after it is made.)
    expect(invoices.map((invoice) => [invoice.subtotal, invoice.total])).toEqual([
      [price, discounted],
      [price, discounted],
      [price, discounted],
      [price, price],
    ]);
    expect(invoices.slice(0, 3).map((invoice) => invoice.status)).toEqual(['paid', 'paid', 'paid']);
    const after = await gql<{ viewer: { subscription: { discount: unknown } } }>(
      `{ viewer { subscription { ${DISCOUNT} } } }`,
    );
    expect(after.data?.viewer.subscription.discount).toBeNull();
  }, 120_000);

  it('Checkout without a code lets the customer type one on Stripe’s page', async () => {
    const { answer } = await checkout('acct_promo_typed');
    expect(answer.errors).toBeUndefined();
    const session = await stack.stripe.checkout.sessions.retrieve(
      answer.data?.createCheckoutSession.id as string,
    );
    expect(session.allow_promotion_codes).toBe(true);
    expect(session.discounts ?? []).toEqual([]);
  });

  it('applyPromotionCode on a live Professional subscription discounts the next invoice, once, and refuses a second code', async () => {
    const { gql, subscriptionId } = await subscribe('acct_promo_live', 'professional');
    const applied = await apply(gql, 'LAUNCH20');
    expect(applied.errors).toBeUndefined();
    expect(applied.data?.applyPromotionCode.discount).toMatchObject({ code: 'LAUNCH20', percentOff: 20 });
    const upcoming = await gql<{ viewer: { upcomingInvoice: Record<string, number> } }>(
      '{ viewer { upcomingInvoice { subtotal discount total } } }',
    );
    // $49.00 − 20 % = $39.20.
    expect(upcoming.data?.viewer.upcomingInvoice).toEqual({ subtotal: 4900, discount: 980, total: 3920 });

    // A downgrade to Starter at the period end: the renewal it previews keeps the discount ($19.00 − 20 %).
    const preview = await gql<{ previewSubscriptionChange: Record<string, number> }>(
      '{ previewSubscriptionChange(input: { planKey: "starter", applyAt: PERIOD_END }) { amountDue discount } }',
    );
    expect(preview.errors).toBeUndefined();
    expect(preview.data?.previewSubscriptionChange).toEqual({ amountDue: 1520, discount: 380 });

    // The same code again changes nothing (a retry); another one is refused: codes do not stack.
    const [launch] = (await stack.stripe.promotionCodes.list({ code: 'LAUNCH20', active: true })).data;
    const redeemed = launch?.times_redeemed;
    expect((await apply(gql, 'launch20')).errors).toBeUndefined();
    expect((await stack.stripe.promotionCodes.retrieve(launch?.id as string)).times_redeemed).toBe(redeemed);
    const other = await codeOver({ percent_off: 10, duration: 'forever' }, { code: 'OTHER10' });
    const refused = await apply(gql, 'OTHER10');
    expectRefusal(refused.errors?.[0], 'already_discounted');
    expect((await stack.stripe.promotionCodes.retrieve(other.id)).times_redeemed).toBe(0);

    await renew(subscriptionId);
    const invoices = await invoicesOf(subscriptionId);
    expect(invoices.map((invoice) => invoice.total)).toEqual([4900, 3920]);
  }, 60_000);

  it('a sales-led (enterprise) subscription takes no code from the customer: its price is a contract', async () => {
    const contract = await stack.stripe.prices.create({
      product: 'prod_coditect_enterprise',
      currency: 'usd',
      unit_amount: 250_000,
      recurring: { interval: 'month' },
    });
    const admin = await stack.as('acct_promo_support', ['admin']);
    const created = await admin<{ createSubscription: { id: string } }>(
      'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id } }',
      {
        input: {
          planKey: 'enterprise',
          customPriceId: contract.id,
          accountId: 'acct_promo_enterprise',
          paymentMethodId: 'pm_card_visa',
        },
      },
    );
    expect(created.errors).toBeUndefined();
    const customer = await stack.as('acct_promo_enterprise');
    await codeOver({ percent_off: 10, duration: 'forever' }, { code: 'ANYPLAN10' });
    const refused = await apply(customer, 'ANYPLAN10');
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const subscription = await stack.stripe.subscriptions.retrieve(
      created.data?.createSubscription.id as string,
    );
    expect(subscription.discounts).toEqual([]);
  });

  describe('refusals, before anything is written', () => {
    let gql: Awaited<ReturnType<BillingStack['as']>>;
    let subscriptionId: string;

    beforeAll(async () => {
      ({ gql, subscriptionId } = await subscribe('acct_promo_refusals', 'starter'));
    });

    async function expectRefused(code: string, reason: string): Promise<void> {
      const refused = await apply(gql, code);
      expectRefusal(refused.errors?.[0], reason);
      const subscription = await stack.stripe.subscriptions.retrieve(subscriptionId);
      expect(subscription.discounts).toEqual([]);
    }

    it('unknown', async () => {
      await expectRefused('NOSUCHCODE', 'unknown');
    });

    it('inactive', async () => {
      await codeOver({ percent_off: 10, duration: 'once' }, { code: 'SWITCHEDOFF', active: false });
      await expectRefused('SWITCHEDOFF', 'inactive');
    });

    it('plan_not_eligible: a coupon for Professional only, on Starter', async () => {
      await codeOver(
        { percent_off: 10, duration: 'once', applies_to: { products: ['prod_coditect_professional'] } },
        { code: 'PROONLY' },
      );
      await expectRefused('PROONLY', 'plan_not_eligible');
    });

    it('minimum_not_met: $50.00 minimum, Starter is $19.00', async () => {
      await codeOver(
        { percent_off: 10, duration: 'once' },
        { code: 'BIGORDER', restrictions: { minimum_amount: 5000, minimum_amount_currency: 'usd' } },
      );
      await expectRefused('BIGORDER', 'minimum_not_met');
    });

    it('already_customer: a first-time code for an account that has paid, here and at Checkout', async () => {
      await codeOver(
        { percent_off: 50, duration: 'once' },
        { code: 'WELCOME50', restrictions: { first_time_transaction: true } },
      );
      await expectRefused('WELCOME50', 'already_customer');
      // A returning customer at Checkout (paid before, then cancelled): refused before any session exists.
      const { gql: returning } = await subscribe('acct_promo_returning', 'starter');
      const cancelled = await returning(
        'mutation { cancelSubscription(input: { atPeriodEnd: false }) { status } }',
      );
      expect(cancelled.errors).toBeUndefined();
      await stack.flushWebhooks();
      const { answer } = await checkout('acct_promo_returning', ', promotionCode: "WELCOME50"');
      expectRefusal(answer.errors?.[0], 'already_customer');
      // A new customer may use it.
      const { answer: fresh } = await checkout('acct_promo_new', ', promotionCode: "WELCOME50"');
      expect(fresh.errors).toBeUndefined();
    });

    it('already_customer: a payment hidden behind a hundred $0 invoices and a hundred declined charges', async () => {
      await codeOver(
        { percent_off: 50, duration: 'once' },
        { code: 'WELCOMEBACK', restrictions: { first_time_transaction: true } },
      );
      const { gql: returning, subscriptionId } = await subscribe('acct_promo_hidden_payment', 'starter');
      const cancelled = await returning(
        'mutation { cancelSubscription(input: { atPeriodEnd: false }) { status } }',
      );
      expect(cancelled.errors).toBeUndefined();
      await stack.flushWebhooks();
      const customer = idOf((await stack.stripe.subscriptions.retrieve(subscriptionId)).customer) as string;
      // Stripe lists newest first, 100 at most a page: the $19.00 invoice and its charge go to the second pages.
      for (let i = 0; i < 100; i++) {
        const draft = await stack.stripe.invoices.create({ customer, auto_advance: false });
        expect((await stack.stripe.invoices.finalizeInvoice(draft.id as string)).status).toBe('paid');
        await expect(
          stack.stripe.paymentIntents.create({
            customer,
            amount: 100,
            currency: 'usd',
            payment_method: 'pm_card_chargeDeclined',
            confirm: true,
          }),
        ).rejects.toMatchObject({ code: 'card_declined' });
      }

      const { answer } = await checkout('acct_promo_hidden_payment', ', promotionCode: "WELCOMEBACK"');
      expectRefusal(answer.errors?.[0], 'already_customer');
    });

    it('max_redemptions: a code for one customer only, used', async () => {
      await codeOver({ percent_off: 10, duration: 'once' }, { code: 'JUSTONE', max_redemptions: 1 });
      const { gql: first } = await subscribe('acct_promo_first_taker', 'starter');
      expect((await apply(first, 'JUSTONE')).errors).toBeUndefined();
      await expectRefused('JUSTONE', 'max_redemptions');
    });

    it('expired', async () => {
      const now = await emulatorNow();
      await codeOver({ percent_off: 10, duration: 'once' }, { code: 'SHORTLIVED', expires_at: now + DAY });
      await stack.advanceClock(2 * DAY);
      await expectRefused('SHORTLIVED', 'expired');
    });
  });

  async function codeOver(
    coupon: Stripe.CouponCreateParams,
    promotionCode: Omit<Stripe.PromotionCodeCreateParams, 'promotion'>,
  ): Promise<Stripe.PromotionCode> {
    const created = await stack.stripe.coupons.create(coupon);
    return stack.stripe.promotionCodes.create({
      ...promotionCode,
      promotion: { type: 'coupon', coupon: created.id },
    });
  }
});

function expectRefusal(error: Refusal | undefined, reason: string): void {
  expect(error?.extensions).toMatchObject({ code: 'PROMOTION_CODE_NOT_APPLICABLE', reason });
  expect(error?.message).not.toMatch(/at \w+ \(/);
}
