import { startWorld, type World } from './world';

/**
 * Trials as a hostile customer would try them (docs/billing-rules.md row 114): a card that had a trial must not
 * start another one by another way of naming it.
 */
describe('trials, hostile', () => {
  let world: World;
  const run = Date.now().toString(36);
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(() => world.stop());

  it('row 114: a card refused a second trial cannot start one as the default card, without naming it', async () => {
    const first = await world.customer(`acct_trial_hostile_a_${run}`);
    expect((await first.subscribe('starter', { trial: true, card: 'pm_card_visa' })).errors).toBeUndefined();
    const second = await world.customer(`acct_trial_hostile_b_${run}`);
    const named = await second.subscribe('starter', { trial: true, card: 'pm_card_visa' });
    expect(named.errors?.[0]?.extensions).toMatchObject({ code: 'TRIAL_NOT_AVAILABLE', reason: 'CARD' });
    // The refused attempt left the card as the customer's default: asking again without naming a card would
    // trial on it, and Stripe charges the default card at the trial's end.
    const unnamed = await second.subscribe('starter', { trial: true, card: null });
    expect(unnamed.errors?.[0]?.extensions).toMatchObject({ code: 'TRIAL_NOT_AVAILABLE', reason: 'CARD' });
    expect((await second.viewer()).subscription).toBeNull();
    // A paid subscription on it is still charged at once.
    expect((await second.subscribe('starter', { card: null })).data?.createSubscription.status).toBe(
      'ACTIVE',
    );
    expect(await second.totalCharged()).toBe(1900);
  });

  it('row 115: one trial per card also when several accounts ask for it with the same card at once', async () => {
    const accounts = await Promise.all(
      ['a', 'b', 'c', 'd'].map((name) => world.customer(`acct_trial_race_${name}_${run}`)),
    );
    const answers = await Promise.all(
      accounts.map((account) => account.subscribe('starter', { trial: true, card: 'pm_card_mastercard' })),
    );
    const started = answers.filter((answer) => answer.data?.createSubscription.status === 'TRIALING');
    expect(started).toHaveLength(1);
    for (const answer of answers.filter((candidate) => !started.includes(candidate)))
      expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'TRIAL_NOT_AVAILABLE', reason: 'CARD' });
  });
});
