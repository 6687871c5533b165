import { BillingCustomer } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';

/**
 * Checkout as a hostile customer would use it (docs/billing-rules.md row 116): an open subscription Checkout that
 * a direct subscription should have closed must not be pushed out of reach behind newer open sessions.
 */

const ALLOWED = 'http://localhost:3000';
const CREATE = `mutation { createCheckoutSession(input: { planKey: "starter", successUrl: "${ALLOWED}/ok", cancelUrl: "${ALLOWED}/no" }) { id status url } }`;

describe('open Checkouts behind a hundred newer sessions', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack({ BILLING_ALLOWED_REDIRECT_ORIGINS: ALLOWED });
  });
  afterAll(() => stack.stop());

  it('row 116: subscribing directly expires the open subscription Checkout behind a hundred newer open credit-pack Checkouts', async () => {
    const account = 'acct_checkout_behind_open';
    const gql = await stack.as(account);
    const first = await gql<{ createCheckoutSession: { id: string } }>(CREATE);
    expect(first.errors).toBeUndefined();
    const subscriptionCheckout = first.data?.createCheckoutSession.id as string;
    const customer = (await stack.app.orm.em.fork().findOneOrFail(BillingCustomer, { accountId: account }))
      .stripeCustomerId as string;
    // A hundred newer open sessions, as credit-pack Checkouts left open make them (one per pack every ten minutes,
    // open for 24 hours): Stripe lists newest first, 100 at most a page.
    const pack = (await stack.stripe.prices.list({ lookup_keys: ['price_credits_10k'] })).data[0];
    expect(pack).toBeDefined();
    const packCheckouts: string[] = [];
    for (let i = 0; i < 100; i++) {
      const session = await stack.stripe.checkout.sessions.create({
        mode: 'payment',
        customer,
        line_items: [{ price: pack.id, quantity: 1 }],
        success_url: `${ALLOWED}/ok`,
        cancel_url: `${ALLOWED}/no`,
      });
      packCheckouts.push(session.id);
    }

    const direct = await gql(
      'mutation { createSubscription(input: { planKey: "starter", interval: MONTH, paymentMethodId: "pm_card_visa" }) { id } }',
    );
    expect(direct.errors).toBeUndefined();
    // The subscription Checkout can no longer be paid: a second paid subscription is not one click away.
    expect((await stack.stripe.checkout.sessions.retrieve(subscriptionCheckout)).status).toBe('expired');
    // A credit pack's Checkout is no second subscription: it stays the customer's to pay.
    expect((await stack.stripe.checkout.sessions.retrieve(packCheckouts[0])).status).toBe('open');
  });
});
