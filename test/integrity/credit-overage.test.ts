import {
  codeOf,
  FINALIZATION_GRACE,
  lastInvoice,
  linesOf,
  startWorld,
  type Customer,
  type World,
} from './world';

/**
 * Credits beyond the balance (docs/billing-rules.md rows 76–79, docs/credits.md "Overage and the spend limit"):
 * on starter (20,000 credits included, `overLimit: bill_overage`) a model call the balance cannot cover is held
 * beyond it, billed once at commit through the `ai_credits` metered price ($0.0012 a credit), never past the
 * customer's spend limit, and on the renewal invoice to the cent. claude-sonnet-4's output is 15,000 credits per
 * million tokens, so a call of 1,000,000 output tokens costs 15,000 credits.
 */
describe('credits beyond the balance, billed within the spend limit', () => {
  let world: World;
  const run = Date.now().toString(36);
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(() => world.stop());

  /** A model call of `outputTokens` output tokens (and no input), reserved at most `maxOutputTokens`. */
  async function call(customer: Customer, maxOutputTokens: number, outputTokens = maxOutputTokens) {
    const reserved = await customer.service<{ reserveUsage: { id: string } }>(
      'mutation($input: ReserveUsageInput!) { reserveUsage(input: $input) { id } }',
      { input: { accountId: customer.accountId, model: 'claude-sonnet-4', inputTokens: 0, maxOutputTokens } },
    );
    if (!reserved.data) return { reserved, committed: null };
    const committed = await customer.service<{
      commitUsage: { credits: { credits: number; burned: number; uncovered: number; billed: number } };
    }>(
      'mutation($input: CommitUsageInput!) { commitUsage(input: $input) { credits { credits burned uncovered billed } } }',
      {
        input: {
          accountId: customer.accountId,
          reservationId: reserved.data.reserveUsage.id,
          inputTokens: 0,
          outputTokens,
        },
      },
    );
    return { reserved, committed: committed.data?.commitUsage.credits ?? null };
  }

  /** The data of the account's queued mails of `kind`. */
  async function mailsOf(customer: Customer, kind: string): Promise<unknown[]> {
    const rows = await world.stack.app.orm.em
      .getConnection()
      .execute<Array<{ data: unknown }>>('select data from notification where account_id = ? and kind = ?', [
        customer.accountId,
        kind,
      ]);
    return rows.map((row) => row.data);
  }

  async function spendOf(customer: Customer) {
    const answer = await customer.gql<{
      viewer: { balance: { available: number }; spendLimit: Record<string, unknown> };
    }>(
      '{ viewer { balance { available } spendLimit { monthlyCents spentCents remainingCents overageCredits overageCents heldOverageCredits overageBilled unitAmountDecimal currency } } }',
    );
    return answer.data?.viewer;
  }

  it('bills what the balance could not cover, refuses what would pass the limit, and invoices it to the cent', async () => {
    const olga = await world.customer(`acct_credit_overage_${run}`);
    expect((await olga.subscribe('starter')).errors).toBeUndefined();
    const period = await olga.period();

    // 15,000 of the 20,000 included credits.
    expect((await call(olga, 1_000_000)).committed).toEqual({
      credits: 15_000,
      burned: 15_000,
      uncovered: 0,
      billed: 0,
    });
    // 15,000 more with 5,000 left: 10,000 beyond the balance, held, then billed (no limit set yet).
    expect((await call(olga, 1_000_000)).committed).toEqual({
      credits: 15_000,
      burned: 5000,
      uncovered: 10_000,
      billed: 10_000,
    });
    expect(await spendOf(olga)).toEqual({
      balance: { available: 0 },
      spendLimit: {
        monthlyCents: null,
        spentCents: 1200, // 10,000 × 0.12 ¢
        remainingCents: null,
        overageCredits: 10_000,
        overageCents: 1200,
        heldOverageCredits: 0,
        overageBilled: true,
        unitAmountDecimal: '0.12',
        currency: 'usd',
      },
    });

    // A $20.00 limit: 15,000 more credits would make 25,000 × 0.12 = 3,000 ¢: refused, nothing held.
    const limited = await olga.gql(
      'mutation { setSpendLimit(input: { monthlyCents: 2000 }) { monthlyCents } }',
    );
    expect(limited.errors).toBeUndefined();
    // Left out, or not whole cents from 0: refused, the limit unchanged (only an explicit null removes it).
    for (const input of ['{}', '{ monthlyCents: -1 }'])
      expect(codeOf(await olga.gql(`mutation { setSpendLimit(input: ${input}) { monthlyCents } }`))).toBe(
        'BAD_USER_INPUT',
      );
    const refused = await call(olga, 1_000_000);
    expect(codeOf(refused.reserved)).toBe('SPEND_LIMIT_REACHED');
    // round(n × 0.12) ≤ 2,000 for n up to 16,670: 6,670 more credits fit.
    expect(refused.reserved.errors?.[0]?.extensions).toMatchObject({
      limitCents: 2000,
      overageRoom: 6670,
      available: 0,
      requested: 15_000,
      currency: 'usd',
    });
    expect((await spendOf(olga))?.spendLimit).toMatchObject({ heldOverageCredits: 0, spentCents: 1200 });

    // 6,000 fit (16,000 × 0.12 = 1,920 ¢, 96 % of the limit: the 80 % mail goes out, once).
    expect((await call(olga, 400_000)).committed).toEqual({
      credits: 6000,
      burned: 0,
      uncovered: 6000,
      billed: 6000,
    });
    expect((await spendOf(olga))?.spendLimit).toMatchObject({ spentCents: 1920, remainingCents: 80 });
    expect(await mailsOf(olga, 'spend_limit_alert')).toEqual([
      expect.objectContaining({ thresholdPercent: 80, spentCents: 1920, limitCents: 2000 }),
    ]);

    // The renewal bills the period's 16,000 credits beyond the balance at 0.12 ¢: 1,920 ¢, beside the plan fee.
    await world.reportOverage();
    await world.advance(Math.ceil((period.end - period.start) / 1000) + FINALIZATION_GRACE);
    const renewal = lastInvoice(await olga.invoices(), 'subscription_cycle');
    expect(linesOf(renewal, 'price_ai_credits_overage')).toEqual([[16_000, 1920]]);
    expect(renewal).toMatchObject({ status: 'paid', total: 1900 + 1920 });
    // A new period: nothing spent, the included credits back.
    expect(await spendOf(olga)).toMatchObject({
      balance: { available: 20_000 },
      spendLimit: { monthlyCents: 2000, spentCents: 0, overageCredits: 0 },
    });
  }, 120_000);

  it('refuses credits beyond the balance while the subscription lacks the ai_credits item, and bills them once it has it', async () => {
    const omar = await world.customer(`acct_credit_no_item_${run}`);
    expect((await omar.subscribe('starter')).errors).toBeUndefined();
    // A subscription made before the `ai_credits` price existed: no item to bill credits beyond the balance on.
    const stripe = world.stack.stripe;
    const [subscription] = (await stripe.subscriptions.list({ customer: await omar.stripeCustomerId() }))
      .data;
    if (!subscription) throw new Error('subscribed');
    const itemOf = (lookupKey: string) =>
      subscription.items.data.find((item) => item.price.lookup_key === lookupKey);
    const creditsItem = itemOf('price_ai_credits_overage');
    if (!creditsItem) throw new Error('the ai_credits item');
    await stripe.subscriptionItems.del(creditsItem.id);
    await world.advance(1);
    expect((await call(omar, 1_000_000)).committed).toMatchObject({ burned: 15_000, billed: 0 });
    // Beyond the balance: refused as on a plan that blocks (Stripe has no line to bill it on), nothing held.
    expect(codeOf((await call(omar, 1_000_000)).reserved)).toBe('USAGE_LIMIT_EXCEEDED');
    expect((await spendOf(omar))?.spendLimit).toMatchObject({ overageBilled: false, heldOverageCredits: 0 });

    // The item is added (a plan change or resume rebuilds the items): billed again from the next read of it.
    await stripe.subscriptionItems.create({ subscription: subscription.id, price: creditsItem.price.id });
    await world.advance(1);
    expect((await call(omar, 1_000_000)).committed).toMatchObject({ burned: 5000, billed: 10_000 });
    expect((await spendOf(omar))?.spendLimit).toMatchObject({ overageBilled: true, spentCents: 1200 });
  }, 60_000);

  it('refuses credits beyond the balance on a trial (its usage is not billed) and on the free plan', async () => {
    const tara = await world.customer(`acct_credit_trial_${run}`);
    expect((await tara.subscribe('starter', { trial: true })).errors).toBeUndefined();
    expect((await call(tara, 1_000_000)).committed).toMatchObject({ burned: 15_000, billed: 0 });
    expect(codeOf((await call(tara, 1_000_000)).reserved)).toBe('USAGE_LIMIT_EXCEEDED');
    expect((await spendOf(tara))?.spendLimit).toMatchObject({ overageBilled: false, spentCents: 0 });

    const fred = await world.customer(`acct_credit_free_${run}`);
    // The free plan's 1,000 credits: 66,666 output tokens cost 999.99, so 1,000 credits.
    expect((await call(fred, 66_666)).committed).toMatchObject({ credits: 1000, burned: 1000, billed: 0 });
    expect(codeOf((await call(fred, 1)).reserved)).toBe('USAGE_LIMIT_EXCEEDED');
  }, 60_000);
});
