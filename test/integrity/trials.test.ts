import { codeOf, DAY, FINALIZATION_GRACE, lastInvoice, linesOf, startWorld, type World } from './world';

/**
 * Trials (docs/billing-rules.md, rows "trial"): Stripe bills nothing for usage accrued during a trial, so a trial
 * serves the plan's allowance and refuses use past it, one trial per account and per card, and the paid period
 * that follows bills its own overage to the cent.
 */
describe('trials', () => {
  let world: World;
  const run = Date.now().toString(36);
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(() => world.stop());

  it('a trial without a card serves the allowance, refuses use past it, bills nothing, and cannot start again', async () => {
    const alice = await world.customer(`acct_trial_nocard_${run}`);
    const trial = await alice.subscribe('starter', { trial: true, card: null });
    expect(trial.errors).toBeUndefined();
    expect(trial.data?.createSubscription.status).toBe('TRIALING');

    expect(codeOf(await alice.use(1000))).toBeNull();
    // 25,000 more requests, as a gateway would try them: every one refused, none served for free.
    const refused = await Promise.all(Array.from({ length: 25 }, () => alice.use(1000)));
    expect(refused.map((answer) => answer.errors?.[0]?.extensions)).toEqual(
      Array(25).fill(
        expect.objectContaining({ code: 'USAGE_LIMIT_EXCEEDED', reason: 'TRIAL', limit: 1000, used: 1000 }),
      ),
    );
    expect((await alice.viewer()).usage.find((row) => row.metric === 'ai_requests')).toMatchObject({
      used: 1000,
      overage: 0,
    });

    expect((await alice.cancel(false)).errors).toBeUndefined();
    await world.advance(0);
    expect(await alice.totalCharged()).toBe(0);
    for (const invoice of await alice.invoices()) expect(invoice.total).toBe(0);

    const again = await alice.subscribe('starter', { trial: true, card: null });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'TRIAL_NOT_AVAILABLE', reason: 'ACCOUNT' });
    const professional = await alice.subscribe('professional', { trial: true, card: null });
    expect(professional.errors?.[0]?.extensions).toMatchObject({
      code: 'TRIAL_NOT_AVAILABLE',
      reason: 'ACCOUNT',
    });
  });

  it('one trial per card: another account with the same card subscribes without one', async () => {
    const bob = await world.customer(`acct_trial_card_${run}`);
    expect((await bob.subscribe('starter', { trial: true })).errors).toBeUndefined();
    const carol = await world.customer(`acct_trial_samecard_${run}`);
    const second = await carol.subscribe('starter', { trial: true });
    expect(second.errors?.[0]?.extensions).toMatchObject({ code: 'TRIAL_NOT_AVAILABLE', reason: 'CARD' });
    // Nothing was created by the refusal: a paid subscription goes through, and is charged at once.
    const paid = await carol.subscribe('starter');
    expect(paid.data?.createSubscription.status).toBe('ACTIVE');
    expect(await carol.totalCharged()).toBe(1900);
  });

  it('usage during a trial is never billed; the paid period after it bills its own overage to the cent', async () => {
    const dave = await world.customer(`acct_trial_then_paid_${run}`);
    expect(
      (await dave.subscribe('starter', { trial: true, card: 'pm_card_mastercard' })).errors,
    ).toBeUndefined();
    expect(codeOf(await dave.use(900))).toBeNull();

    // The trial (14 days) ends: Stripe charges the plan, and nothing for the trial's usage.
    await world.advance(15 * DAY + FINALIZATION_GRACE);
    const trialEnd = lastInvoice(await dave.invoices(), 'subscription_cycle');
    expect(trialEnd).toMatchObject({ status: 'paid', total: 1900 });
    expect(linesOf(trialEnd, 'price_starter_monthly')).toEqual([[1, 1900]]);
    expect(linesOf(trialEnd, 'price_ai_requests_overage').every(([, amount]) => amount === 0)).toBe(true);

    // The first paid month: 1,200 requests, 200 past the 1,000 included, $0.01 each, on the next renewal.
    expect(codeOf(await dave.use(1200))).toBeNull();
    await world.reportOverage();
    await world.advance(31 * DAY + FINALIZATION_GRACE);
    const renewal = lastInvoice(await dave.invoices(), 'subscription_cycle');
    expect(linesOf(renewal, 'price_ai_requests_overage')).toEqual([[200, 200]]);
    expect(renewal).toMatchObject({ status: 'paid', total: 1900 + 200 });
    expect(await dave.totalCharged()).toBe(1900 + 2100);
  });

  it('endTrial lifts the cap: the plan is charged now and a paid period starts', async () => {
    const erin = await world.customer(`acct_trial_end_${run}`);
    expect((await erin.subscribe('starter', { trial: true, card: 'pm_card_amex' })).errors).toBeUndefined();
    expect(codeOf(await erin.use(1000))).toBeNull();
    expect(codeOf(await erin.use(1))).toBe('USAGE_LIMIT_EXCEEDED');
    await world.advance(2 * DAY);

    const ended = await erin.gql<{ endTrial: { status: string } }>('mutation { endTrial { status } }');
    expect(ended.data?.endTrial.status).toBe('ACTIVE');
    expect(await erin.totalCharged()).toBe(1900);
    // A new, paid period: the cap is gone and use past the allowance is billed, not refused.
    expect(codeOf(await erin.use(1500))).toBeNull();
    expect((await erin.viewer()).usage.find((row) => row.metric === 'ai_requests')).toMatchObject({
      used: 1500,
      included: 1000,
      overage: 500,
    });
  });
});
