import { BillingCustomer, Entitlement } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';
import { stripeServicesOf } from '../support/service';

/**
 * The billing core through the public GraphQL API, against the Stripe emulator (real SDK over HTTP) and a real
 * PostgreSQL: checklist 6.1.1, 6.1.2 and 6.2.1–6.2.2. Webhooks are not involved: every state shown here was
 * written by the mutation itself or by `checkoutSession(id)`.
 */

const SUBSCRIPTION = `id status plan { key } interval currentPeriodStart currentPeriodEnd cancelAtPeriodEnd canceledAt
  trialEnd scheduledChange { plan { key } interval effectiveAt }`;

interface SubscriptionView {
  id: string;
  status: string;
  plan: { key: string };
  interval: string;
  currentPeriodStart: string;
  currentPeriodEnd: string;
  cancelAtPeriodEnd: boolean;
  canceledAt: string | null;
  trialEnd: string | null;
  scheduledChange: { plan: { key: string }; interval: string; effectiveAt: string } | null;
}

const DAY = 24 * 3600;
const ALLOWED = 'http://localhost:3000';

describe('billing core over GraphQL', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack({ BILLING_ALLOWED_REDIRECT_ORIGINS: ALLOWED });
  });
  afterAll(() => stack.stop());

  async function subscribe(accountId: string, planKey: string, paymentMethodId = 'pm_card_visa') {
    const gql = await stack.as(accountId);
    const result = await gql<{ createSubscription: SubscriptionView }>(
      `mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { ${SUBSCRIPTION} } }`,
      { input: { planKey, paymentMethodId } },
    );
    return { gql, result };
  }

  /** Re-reads a subscription from Stripe into the database, as a webhook would (issue 5). */
  async function refreshFromStripe(accountId: string, subscriptionId: string): Promise<void> {
    const em = stack.app.orm.em.fork();
    const customer = await em.findOneOrFail(BillingCustomer, { accountId });
    await stripeServicesOf(stack.app).subscriptions.refresh(em, customer, subscriptionId);
  }

  describe('plans', () => {
    it('lists the catalog publicly, with prices in cents', async () => {
      const response = await stack.graphql<{
        plans: Array<{ key: string; prices: Array<{ interval: string; amount: number; lookupKey: string }> }>;
      }>(
        '{ plans { key trialDays salesLed prices { interval amount currency lookupKey } limits { metric included overLimit } } }',
      );
      expect(response.data?.plans.map((plan) => plan.key)).toEqual([
        'free',
        'starter',
        'professional',
        'enterprise',
      ]);
      expect(response.data?.plans[1].prices).toEqual([
        { interval: 'MONTH', amount: 1900, currency: 'usd', lookupKey: 'price_starter_monthly' },
        { interval: 'YEAR', amount: 19000, currency: 'usd', lookupKey: 'price_starter_yearly' },
      ]);
    });
  });

  describe('customer', () => {
    it('creates the Stripe customer on first use and updates email, name and address', async () => {
      const gql = await stack.as('acct_customer');
      const response = await gql<{
        updateCustomer: { id: string; email: string; name: string; address: { city: string } };
      }>(
        `mutation { updateCustomer(input: { email: "billing@acme.io", name: "ACME GmbH", address: { line1: "Hauptstr. 1", city: "Berlin", postalCode: "10115", country: "DE" } }) { id email name address { city country } } }`,
      );
      expect(response.errors).toBeUndefined();
      expect(response.data?.updateCustomer).toMatchObject({
        email: 'billing@acme.io',
        name: 'ACME GmbH',
        address: { city: 'Berlin' },
      });
      const inStripe = await stack.stripe.customers.retrieve(response.data?.updateCustomer.id as string);
      expect(inStripe).toMatchObject({ email: 'billing@acme.io', metadata: { account_id: 'acct_customer' } });

      const viewer = await gql<{ viewer: { customer: { email: string } } }>(
        '{ viewer { customer { email } } }',
      );
      expect(viewer.data?.viewer.customer.email).toBe('billing@acme.io');
    });

    it('refuses an invalid email with BAD_USER_INPUT naming the field, and changes nothing', async () => {
      const gql = await stack.as('acct_customer');
      const response = await gql('mutation { updateCustomer(input: { email: "not-an-email" }) { email } }');
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'email' });
      const viewer = await gql<{ viewer: { customer: { email: string } } }>(
        '{ viewer { customer { email } } }',
      );
      expect(viewer.data?.viewer.customer.email).toBe('billing@acme.io');
    });
  });

  describe('checkout', () => {
    it('pays on the Checkout page and shows the new plan at once through checkoutSession(id)', async () => {
      const gql = await stack.as('acct_checkout');
      const created = await gql<{ createCheckoutSession: { id: string; url: string; status: string } }>(
        `mutation { createCheckoutSession(input: { planKey: "professional", successUrl: "${ALLOWED}/billing/success", cancelUrl: "${ALLOWED}/billing" }) { id url status } }`,
      );
      expect(created.errors).toBeUndefined();
      const session = created.data?.createCheckoutSession;
      expect(session?.status).toBe('open');
      expect(session?.url).toContain(stack.emulator.url);
      const inStripe = await stack.stripe.checkout.sessions.retrieve(session?.id as string);
      expect(inStripe).toMatchObject({ client_reference_id: 'acct_checkout', mode: 'subscription' });
      expect(inStripe.success_url).toBe(`${ALLOWED}/billing/success?session_id={CHECKOUT_SESSION_ID}`);

      const before = await gql<{ viewer: { plan: { key: string } } }>('{ viewer { plan { key } } }');
      expect(before.data?.viewer.plan.key).toBe('free');

      const paid = await fetch(`${stack.emulator.url}/_emulator/checkout/sessions/${session?.id}/complete`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ card: '4242424242424242' }),
      });
      expect(paid.status).toBe(200);

      const confirmed = await gql<{ checkoutSession: { status: string; subscription: SubscriptionView } }>(
        `query($id: ID!) { checkoutSession(id: $id) { status subscription { ${SUBSCRIPTION} } } }`,
        { id: session?.id },
      );
      expect(confirmed.data?.checkoutSession).toMatchObject({
        status: 'complete',
        subscription: { status: 'ACTIVE', plan: { key: 'professional' }, interval: 'MONTH' },
      });
      const viewer = await gql<{ viewer: { plan: { key: string }; subscription: { status: string } } }>(
        '{ viewer { plan { key } subscription { status } } }',
      );
      expect(viewer.data?.viewer).toEqual({
        plan: { key: 'professional' },
        subscription: { status: 'ACTIVE' },
      });
    });

    it("refuses to show another account's checkout session", async () => {
      const owner = await stack.as('acct_checkout_owner');
      const created = await owner<{ createCheckoutSession: { id: string } }>(
        `mutation { createCheckoutSession(input: { planKey: "starter", successUrl: "${ALLOWED}/ok", cancelUrl: "${ALLOWED}/no" }) { id } }`,
      );
      const intruder = await stack.as('acct_intruder');
      const response = await intruder('query($id: ID!) { checkoutSession(id: $id) { status } }', {
        id: created.data?.createCheckoutSession.id,
      });
      expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    });

    it('refuses redirect URLs outside the allow-list, before anything reaches Stripe', async () => {
      const before = (await stack.stripe.checkout.sessions.list({ limit: 100 })).data.length;
      const gql = await stack.as('acct_phish');
      for (const [field, success, cancel] of [
        ['successUrl', 'https://evil.example/steal', `${ALLOWED}/no`],
        ['cancelUrl', `${ALLOWED}/ok`, 'javascript:alert(1)'],
      ]) {
        const response = await gql(
          'mutation($s: String!, $c: String!) { createCheckoutSession(input: { planKey: "starter", successUrl: $s, cancelUrl: $c }) { id } }',
          { s: success, c: cancel },
        );
        expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
      }
      expect((await stack.stripe.checkout.sessions.list({ limit: 100 })).data.length).toBe(before);
    });

    it('keeps only the newest checkout open, so two cannot both be paid', async () => {
      const gql = await stack.as('acct_two_checkouts');
      const ids: string[] = [];
      for (const planKey of ['starter', 'professional']) {
        const created = await gql<{ createCheckoutSession: { id: string } }>(
          `mutation { createCheckoutSession(input: { planKey: "${planKey}", successUrl: "${ALLOWED}/ok", cancelUrl: "${ALLOWED}/no" }) { id } }`,
        );
        ids.push(created.data?.createCheckoutSession.id as string);
      }
      expect((await stack.stripe.checkout.sessions.retrieve(ids[0])).status).toBe('expired');
      expect((await stack.stripe.checkout.sessions.retrieve(ids[1])).status).toBe('open');
    });

    it('refuses a sales-led or unknown plan', async () => {
      const gql = await stack.as('acct_wrong_plan');
      for (const planKey of ['enterprise', 'platinum']) {
        const response = await gql(
          `mutation { createCheckoutSession(input: { planKey: "${planKey}", successUrl: "${ALLOWED}/ok", cancelUrl: "${ALLOWED}/no" }) { id } }`,
        );
        expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'planKey' });
      }
    });
  });

  describe('subscriptions', () => {
    it('subscribes with a card, and refuses a second subscription with CONFLICT', async () => {
      const { gql, result } = await subscribe('acct_sub', 'starter');
      expect(result.errors).toBeUndefined();
      expect(result.data?.createSubscription).toMatchObject({
        status: 'ACTIVE',
        plan: { key: 'starter' },
        interval: 'MONTH',
      });
      // Provisioned by the mutation itself, before any webhook.
      const rows = await stack.app.orm.em.fork().find(Entitlement, { accountId: 'acct_sub' });
      expect(rows.find((row) => row.featureKey === 'api_access')?.enabled).toBe(true);
      expect(rows.find((row) => row.featureKey === 'ai_requests')?.limit).toBe(1000);
      const second = await gql(
        'mutation { createSubscription(input: { planKey: "professional", paymentMethodId: "pm_card_visa" }) { id } }',
      );
      expect(second.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      const customers = await stack.stripe.customers.search({ query: "metadata['account_id']:'acct_sub'" });
      const subscriptions = await stack.stripe.subscriptions.list({
        customer: customers.data[0].id,
        status: 'all',
      });
      expect(subscriptions.data).toHaveLength(1);
    });

    it('answers CARD_DECLINED with the decline code for a failing card, and leaves no subscription behind', async () => {
      const { result } = await subscribe('acct_declined', 'starter', 'pm_card_chargeCustomerFail');
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'CARD_DECLINED' });
      expect(result.errors?.[0]?.extensions?.declineCode).toBeTruthy();
      const customers = await stack.stripe.customers.search({
        query: "metadata['account_id']:'acct_declined'",
      });
      const subscriptions = await stack.stripe.subscriptions.list({
        customer: customers.data[0].id,
        status: 'all',
      });
      expect(
        subscriptions.data.filter((subscription) => subscription.status !== 'incomplete_expired'),
      ).toEqual([]);
      const viewer = await (await stack.as('acct_declined'))<{ viewer: { subscription: null } }>(
        '{ viewer { subscription { id } } }',
      );
      expect(viewer.data?.viewer.subscription).toBeNull();
    });

    it('needs a payment method (or a trial) for a paid plan', async () => {
      const gql = await stack.as('acct_no_card');
      const response = await gql('mutation { createSubscription(input: { planKey: "starter" }) { id } }');
      expect(response.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'paymentMethodId',
      });
    });

    it('upgrades now with a prorated charge equal to the amount worked out by hand', async () => {
      const { gql, result } = await subscribe('acct_upgrade', 'starter');
      const subscriptionId = result.data?.createSubscription.id as string;
      await stack.advanceClock(10 * DAY);

      const preview = await gql<{
        previewSubscriptionChange: { amountDue: number; currency: string; lines: unknown[] };
      }>(
        'query { previewSubscriptionChange(input: { planKey: "professional" }) { amountDue currency lines { description amount } nextPaymentAt } }',
      );
      expect(preview.errors).toBeUndefined();

      const changed = await gql<{ changeSubscription: SubscriptionView }>(
        `mutation { changeSubscription(input: { planKey: "professional" }) { ${SUBSCRIPTION} } }`,
      );
      expect(changed.errors).toBeUndefined();
      expect(changed.data?.changeSubscription).toMatchObject({
        status: 'ACTIVE',
        plan: { key: 'professional' },
      });

      // Stripe prorates by the second (docs.stripe.com/billing/subscriptions/prorations): a credit for the unused
      // time of the old price and a charge for the remaining time of the new one, each rounded to the cent.
      const subscription = await stack.stripe.subscriptions.retrieve(subscriptionId, {
        expand: ['latest_invoice'],
      });
      const invoice = subscription.latest_invoice as {
        amount_due: number;
        billing_reason: string;
        lines: { data: Array<{ amount: number; period: { start: number; end: number } }> };
      };
      expect(invoice.billing_reason).toBe('subscription_update');
      const { start: periodStart, end: periodEnd } = {
        start: subscription.items.data[0].current_period_start,
        end: subscription.items.data[0].current_period_end,
      };
      const prorationFrom = Math.min(...invoice.lines.data.map((line) => line.period.start));
      const remaining = (periodEnd - prorationFrom) / (periodEnd - periodStart);
      const byHand = Math.round(4900 * remaining) - Math.round(1900 * remaining);
      expect(invoice.amount_due).toBe(byHand);
      // 20 of 30 days remain: about two thirds of the $30 difference.
      expect(byHand).toBeGreaterThan(1900);
      expect(byHand).toBeLessThan(2100);
      expect(Math.abs((preview.data?.previewSubscriptionChange.amountDue ?? 0) - byHand)).toBeLessThanOrEqual(
        1,
      );
    });

    it('downgrades at the period end through a schedule, and only once the clock passes it', async () => {
      const { gql, result } = await subscribe('acct_downgrade', 'professional');
      const subscriptionId = result.data?.createSubscription.id as string;
      const periodEnd = result.data?.createSubscription.currentPeriodEnd as string;

      const changed = await gql<{ changeSubscription: SubscriptionView }>(
        `mutation { changeSubscription(input: { planKey: "starter" }) { ${SUBSCRIPTION} } }`,
      );
      expect(changed.errors).toBeUndefined();
      expect(changed.data?.changeSubscription).toMatchObject({
        plan: { key: 'professional' },
        scheduledChange: { plan: { key: 'starter' }, interval: 'MONTH', effectiveAt: periodEnd },
      });
      expect((await stack.stripe.subscriptions.retrieve(subscriptionId)).items.data[0].price.lookup_key).toBe(
        'price_professional_monthly',
      );

      await stack.advanceClock(5 * DAY);
      expect((await stack.stripe.subscriptions.retrieve(subscriptionId)).items.data[0].price.lookup_key).toBe(
        'price_professional_monthly',
      );

      await stack.advanceClock(30 * DAY);
      const after = await stack.stripe.subscriptions.retrieve(subscriptionId);
      expect(after.items.data[0].price.lookup_key).toBe('price_starter_monthly');
      await refreshFromStripe('acct_downgrade', subscriptionId);
      const viewer = await gql<{ viewer: { plan: { key: string }; subscription: SubscriptionView } }>(
        `{ viewer { plan { key } subscription { ${SUBSCRIPTION} } } }`,
      );
      expect(viewer.data?.viewer.plan.key).toBe('starter');
      expect(viewer.data?.viewer.subscription.scheduledChange).toBeNull();
    });

    it('cancels at the period end keeping access until then, and resume undoes it', async () => {
      const { gql, result } = await subscribe('acct_cancel', 'starter');
      const subscriptionId = result.data?.createSubscription.id as string;

      const canceled = await gql<{ cancelSubscription: SubscriptionView }>(
        `mutation { cancelSubscription { ${SUBSCRIPTION} } }`,
      );
      expect(canceled.data?.cancelSubscription).toMatchObject({ status: 'ACTIVE', cancelAtPeriodEnd: true });
      expect((await stack.stripe.subscriptions.retrieve(subscriptionId)).cancel_at_period_end).toBe(true);
      const during = await gql<{ viewer: { plan: { key: string } } }>('{ viewer { plan { key } } }');
      expect(during.data?.viewer.plan.key).toBe('starter');

      const resumed = await gql<{ resumeSubscription: SubscriptionView }>(
        `mutation { resumeSubscription { ${SUBSCRIPTION} } }`,
      );
      expect(resumed.data?.resumeSubscription).toMatchObject({ status: 'ACTIVE', cancelAtPeriodEnd: false });
      expect((await stack.stripe.subscriptions.retrieve(subscriptionId)).cancel_at_period_end).toBe(false);

      const again = await gql('mutation { resumeSubscription { id } }');
      expect(again.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });

    it('treats cancel, resume and cancel again as three changes, not a replay of the first', async () => {
      const { gql, result } = await subscribe('acct_flip', 'starter');
      const subscriptionId = result.data?.createSubscription.id as string;
      for (const [mutation, expected] of [
        ['mutation { cancelSubscription { cancelAtPeriodEnd } }', true],
        ['mutation { resumeSubscription { cancelAtPeriodEnd } }', false],
        ['mutation { cancelSubscription { cancelAtPeriodEnd } }', true],
      ] as const) {
        const response = await gql<Record<string, { cancelAtPeriodEnd: boolean }>>(mutation);
        expect(Object.values(response.data ?? {})[0]?.cancelAtPeriodEnd).toBe(expected);
        expect((await stack.stripe.subscriptions.retrieve(subscriptionId)).cancel_at_period_end).toBe(
          expected,
        );
      }
    });

    it('subscribes anew after a cancellation instead of replaying the old subscription', async () => {
      const { gql, result } = await subscribe('acct_again', 'starter');
      const first = result.data?.createSubscription.id as string;
      await gql('mutation { cancelSubscription(input: { atPeriodEnd: false }) { id } }');
      const again = await gql<{ createSubscription: SubscriptionView }>(
        `mutation { createSubscription(input: { planKey: "starter", paymentMethodId: "pm_card_visa" }) { ${SUBSCRIPTION} } }`,
      );
      expect(again.errors).toBeUndefined();
      expect(again.data?.createSubscription.id).not.toBe(first);
      expect(
        (await stack.stripe.subscriptions.retrieve(again.data?.createSubscription.id as string)).status,
      ).toBe('active');
      expect((await stack.stripe.subscriptions.retrieve(first)).status).toBe('canceled');
    });

    it('keeps a scheduled change when an upgrade is declined', async () => {
      const { gql, result } = await subscribe('acct_keep_downgrade', 'starter');
      const subscriptionId = result.data?.createSubscription.id as string;
      // Yearly billing from the end of this month (an interval switch waits for the period end).
      const scheduled = await gql(
        'mutation { changeSubscription(input: { planKey: "starter", interval: YEAR }) { id } }',
      );
      expect(scheduled.errors).toBeUndefined();
      expect((await stack.stripe.subscriptions.retrieve(subscriptionId)).schedule).toBeTruthy();
      // The card on file now fails: the upgrade to professional is charged at once, and declined.
      const customer = (await stack.stripe.subscriptions.retrieve(subscriptionId)).customer as string;
      const failing = await stack.stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer });
      await stack.stripe.customers.update(customer, {
        invoice_settings: { default_payment_method: failing.id },
      });
      await stack.stripe.subscriptions.update(subscriptionId, { default_payment_method: failing.id });
      const upgrade = await gql(
        'mutation { changeSubscription(input: { planKey: "professional", applyAt: IMMEDIATELY, prorationBehavior: ALWAYS_INVOICE }) { id } }',
      );
      expect(upgrade.errors?.[0]?.extensions?.code).toBe('CARD_DECLINED');
      const after = await stack.stripe.subscriptions.retrieve(subscriptionId);
      expect(after.items.data.map((item) => item.price.lookup_key)).toContain('price_starter_monthly');
      expect(after.schedule).toBeTruthy();
      const viewer = await gql<{ viewer: { subscription: SubscriptionView } }>(
        `{ viewer { subscription { ${SUBSCRIPTION} } } }`,
      );
      expect(viewer.data?.viewer.subscription.scheduledChange).toMatchObject({
        plan: { key: 'starter' },
        interval: 'YEAR',
      });
    });

    it('lets only an admin upgrade at once without charging the difference', async () => {
      const { gql } = await subscribe('acct_free_upgrade', 'starter');
      const response = await gql(
        'mutation { changeSubscription(input: { planKey: "professional", prorationBehavior: NONE, applyAt: IMMEDIATELY }) { id } }',
      );
      expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    });

    it('ends a subscription canceled at period end once the clock passes it: back to free', async () => {
      const { gql, result } = await subscribe('acct_cancel_end', 'starter');
      const subscriptionId = result.data?.createSubscription.id as string;
      await gql('mutation { cancelSubscription(input: { atPeriodEnd: true }) { id } }');
      await stack.advanceClock(31 * DAY);
      expect((await stack.stripe.subscriptions.retrieve(subscriptionId)).status).toBe('canceled');
      await refreshFromStripe('acct_cancel_end', subscriptionId);
      const viewer = await gql<{ viewer: { plan: { key: string }; subscription: null } }>(
        '{ viewer { plan { key } subscription { id } } }',
      );
      expect(viewer.data?.viewer).toEqual({ plan: { key: 'free' }, subscription: null });
    });

    it('cancels immediately: canceled at once and back to free', async () => {
      const { gql } = await subscribe('acct_cancel_now', 'professional');
      const canceled = await gql<{ cancelSubscription: SubscriptionView }>(
        `mutation { cancelSubscription(input: { atPeriodEnd: false }) { ${SUBSCRIPTION} } }`,
      );
      expect(canceled.data?.cancelSubscription.status).toBe('CANCELED');
      expect(canceled.data?.cancelSubscription.canceledAt).not.toBeNull();
      const viewer = await gql<{
        viewer: { plan: { key: string }; entitlements: Array<{ feature: string; enabled: boolean }> };
      }>('{ viewer { plan { key } entitlements { feature enabled } } }');
      expect(viewer.data?.viewer.plan.key).toBe('free');
      // Provisioned by the mutation itself: the stored entitlements are free's, not professional's.
      expect(viewer.data?.viewer.entitlements).toContainEqual({
        feature: 'team_collaboration',
        enabled: false,
      });
    });

    it("starts the plan's trial without a card, and the trial ends into the plan's setting (cancel)", async () => {
      const gql = await stack.as('acct_trial');
      const created = await gql<{ createSubscription: SubscriptionView }>(
        `mutation { createSubscription(input: { planKey: "starter", withTrial: true }) { ${SUBSCRIPTION} } }`,
      );
      expect(created.errors).toBeUndefined();
      const view = created.data?.createSubscription as SubscriptionView;
      expect(view.status).toBe('TRIALING');
      const trialDays =
        (Date.parse(view.trialEnd as string) - Date.parse(view.currentPeriodStart)) / 1000 / DAY;
      expect(trialDays).toBe(14);
      expect(
        (await gql<{ viewer: { plan: { key: string } } }>('{ viewer { plan { key } } }')).data?.viewer.plan
          .key,
      ).toBe('starter');

      await stack.advanceClock(15 * DAY);
      expect((await stack.stripe.subscriptions.retrieve(view.id)).status).toBe('canceled');
      await refreshFromStripe('acct_trial', view.id);
      expect(
        (await gql<{ viewer: { plan: { key: string } } }>('{ viewer { plan { key } } }')).data?.viewer.plan
          .key,
      ).toBe('free');
    });

    it('ends a trial with a card on file into an active, paid subscription', async () => {
      const gql = await stack.as('acct_trial_card');
      const created = await gql<{ createSubscription: SubscriptionView }>(
        `mutation { createSubscription(input: { planKey: "professional", withTrial: true, paymentMethodId: "pm_card_visa" }) { ${SUBSCRIPTION} } }`,
      );
      const id = created.data?.createSubscription.id as string;
      expect(created.data?.createSubscription.status).toBe('TRIALING');
      await stack.advanceClock(15 * DAY);
      const after = await stack.stripe.subscriptions.retrieve(id, { expand: ['latest_invoice'] });
      expect(after.status).toBe('active');
      expect((after.latest_invoice as { amount_paid: number }).amount_paid).toBe(4900);
    });
  });

  describe('portal', () => {
    it('opens the Customer Portal for the caller, returning to an allowed URL only', async () => {
      const gql = await stack.as('acct_portal');
      const session = await gql<{ createPortalSession: { url: string } }>(
        `mutation { createPortalSession(input: { returnUrl: "${ALLOWED}/billing" }) { url } }`,
      );
      expect(session.errors).toBeUndefined();
      expect(session.data?.createPortalSession.url).toContain(stack.emulator.url);

      const refused = await gql(
        'mutation { createPortalSession(input: { returnUrl: "https://evil.example/" }) { url } }',
      );
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'returnUrl' });
    });
  });

  describe('authorization', () => {
    it('keeps other accounts, and the admin lists, out of reach of a user', async () => {
      const gql = await stack.as('acct_user');
      expect(
        (await gql('{ account(id: "acct_checkout") { id plan { key } } }')).errors?.[0]?.extensions?.code,
      ).toBe('FORBIDDEN');
      expect((await gql('{ accounts { nodes { id } } }')).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    });

    it('lets an admin read any account and page through them', async () => {
      const admin = await stack.as('acct_ops', ['admin']);
      const account = await admin<{ account: { plan: { key: string } } }>(
        '{ account(id: "acct_checkout") { plan { key } } }',
      );
      expect(account.data?.account.plan.key).toBe('professional');
      const first = await admin<{
        accounts: { nodes: Array<{ id: string }>; pageInfo: { hasNextPage: boolean; endCursor: string } };
      }>('{ accounts(first: 2) { nodes { id } pageInfo { hasNextPage endCursor } } }');
      expect(first.data?.accounts.nodes).toHaveLength(2);
      expect(first.data?.accounts.pageInfo.hasNextPage).toBe(true);
      const next = await admin<{ accounts: { nodes: Array<{ id: string }> } }>(
        'query($after: String) { accounts(first: 2, after: $after) { nodes { id } } }',
        { after: first.data?.accounts.pageInfo.endCursor },
      );
      const firstIds = first.data?.accounts.nodes.map((node) => node.id) ?? [];
      expect(
        next.data?.accounts.nodes.every((node) => !firstIds.includes(node.id) && node.id > firstIds[1]),
      ).toBe(true);
    });

    it('answers UNAUTHENTICATED to an anonymous mutation', async () => {
      const response = await stack.graphql('mutation { cancelSubscription { id } }');
      expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });
  });
});
