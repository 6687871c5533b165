import { UsageCounter } from '../../src/entities';
import { type BillingStack, startBillingStack } from '../support/billing-stack';

const DAY = 24 * 3600;
const HOUR = 3600;

/**
 * A resync (the reconciler's repair when webhooks were missed) that finds a downgrade scheduled for the renewal
 * already reached weighs it from the renewal, not from the moment of the resync: the new period gets the new
 * plan's whole allowance, as when the renewal's webhooks are processed (randomized seed 603501303's cause).
 */
describe('resync of an account whose scheduled downgrade was reached while no webhook came', () => {
  let stack: BillingStack;

  beforeAll(async () => {
    // No webhook endpoint and no workers: the renewal reaches the service only through the resync.
    stack = await startBillingStack({ RECONCILE_INTERVAL_MS: '0', WEBHOOK_WORKERS: '0' });
  });
  afterAll(() => stack.stop());

  it('weighs the downgrade from the renewal, whenever the resync runs', async () => {
    const accountId = `acct_resync_downgrade_${Date.now().toString(36)}`;
    const gql = await stack.as(accountId);
    const subscribed = await gql(
      'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id } }',
      { input: { planKey: 'professional', interval: 'MONTH', paymentMethodId: 'pm_card_visa' } },
    );
    expect(subscribed.errors).toBeUndefined();
    const scheduled = await gql<{ changeSubscription: { currentPeriodEnd: string } }>(
      'mutation($input: ChangeSubscriptionInput!) { changeSubscription(input: $input) { currentPeriodEnd } }',
      { input: { planKey: 'starter' } },
    );
    expect(scheduled.errors).toBeUndefined();
    const renewal = new Date(scheduled.data?.changeSubscription.currentPeriodEnd as string);
    // The renewal, its invoice finalized and paid an hour later, and some time after that.
    await stack.advanceClock(31 * DAY + 2 * HOUR);

    const reconciler = stack.app.reconciler;
    if (!reconciler) throw new Error('the service was started with Stripe but has no reconciler');
    expect(await reconciler.resyncAccount(accountId)).toMatchObject({ planKey: 'starter' });

    const counter = await stack.app.orm.em
      .fork()
      .findOneOrFail(UsageCounter, { accountId, metric: 'ai_requests', periodStart: renewal });
    // Weighed from the resync instead, the month kept two hours of the professional allowance (1,024).
    expect({ included: counter.included, planIncluded: counter.planIncluded }).toEqual({
      included: 1000,
      planIncluded: 1000,
    });
  });
});
