import { Subscription } from '../../src/entities';
import { isFollowing } from '../../src/services/time/clock';
import { type BillingStack, startBillingStack } from '../support/billing-stack';

const DAY = 24 * 3600;

/**
 * The grace period of a failed payment starts when Stripe failed it, never earlier, even when the service's
 * clock has not yet read Stripe's latest move. The service follows the emulator's clock by reading it every
 * 250 ms; here it stops reading on its own, so the emulator's two weeks reach the service only as webhooks.
 * Started from the service's stale "now", the grace period would be over the moment its clock caught up, and
 * the account would fall to free on the day its payment failed (seen in the payment-failure journey, under load).
 */
describe('the start of a grace period', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    stack = await startBillingStack({}, { webhooks: true });
  });
  afterAll(() => stack.stop());

  it("is stamped by Stripe's clock, read again when an event is ahead of ours", async () => {
    const gql = await stack.as('acct_grace_lag');
    const created = await gql<{ createSubscription: { status: string } }>(
      'mutation { createSubscription(input: { planKey: "starter", withTrial: true, paymentMethodId: "pm_card_chargeCustomerFail" }) { status } }',
    );
    expect(created.data?.createSubscription.status).toBe('TRIALING');
    await stack.flushWebhooks();

    const { clock } = stack.app;
    if (!isFollowing(clock))
      throw new Error('the test service follows the emulator clock (BILLING_CLOCK=emulator)');
    clock.stop();
    const before = clock.now().getTime();
    const moved = await fetch(`${stack.emulator.url}/_emulator/clock/advance`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ seconds: 15 * DAY }),
    });
    expect(moved.ok).toBe(true);
    await stack.flushWebhooks();

    const subscription = await stack.app.orm.em
      .fork()
      .findOneOrFail(Subscription, { accountId: 'acct_grace_lag' });
    expect(subscription.status).toBe('past_due');
    // The grace period starts two weeks on, when the renewal failed, not when the service last looked: the
    // events processed moved the service's clock to Stripe's.
    const [failed] = (await stack.stripe.invoices.list({ status: 'open', limit: 1 })).data;
    expect(subscription.pastDueSince?.getTime()).toBeGreaterThanOrEqual((failed.created ?? 0) * 1000);
    expect(clock.now().getTime() - before).toBeGreaterThan(15 * DAY * 1000 - 60_000);

    // A day after the failure the periodic sweep leaves the account on its plan.
    const reconciler = stack.app.reconciler;
    if (!reconciler) throw new Error('the service was started with Stripe but has no reconciler');
    expect(await reconciler.sweepGracePeriods(new Date(clock.now().getTime() + DAY * 1000))).toEqual([]);
    const viewer = await gql<{ viewer: { plan: { key: string } } }>('{ viewer { plan { key } } }');
    expect(viewer.data?.viewer.plan.key).toBe('starter');
  });
});
