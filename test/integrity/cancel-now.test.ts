import { codeOf, DAY, FINALIZATION_GRACE, lastInvoice, linesOf, startWorld, type World } from './world';

/**
 * Cancelling (docs/billing-rules.md, rows "cancel"): now, the period's overage is reported first and billed on a
 * final invoice, with no refund of the unused time; at the period end, access and the allowance last until then
 * and the last renewal bills the overage.
 */
describe('cancelling', () => {
  let world: World;
  const run = Date.now().toString(36);
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(() => world.stop());

  it('cancel now bills the period’s overage on a final invoice, to the cent, and refunds nothing', async () => {
    const frank = await world.customer(`acct_cancel_now_${run}`);
    expect((await frank.subscribe('starter')).errors).toBeUndefined();
    expect(await frank.totalCharged()).toBe(1900);
    await world.advance(10 * DAY);
    // 1,200 requests: 200 past the 1,000 included, never reported before the cancellation.
    expect(codeOf(await frank.use(1200))).toBeNull();

    const canceled = await frank.cancel(false);
    expect(canceled.errors).toBeUndefined();
    expect(canceled.data?.cancelSubscription.status).toBe('CANCELED');
    await world.advance(0);

    const final = lastInvoice(await frank.invoices(), 'subscription_cycle');
    expect(linesOf(final, 'price_ai_requests_overage')).toEqual([[200, 200]]);
    // No credit for the 20 unused days: nothing negative on it.
    expect(final.lines.filter((line) => line.amount < 0)).toEqual([]);
    expect(final).toMatchObject({ total: 200, status: 'paid' });
    expect(await frank.totalCharged()).toBe(1900 + 200);
    // Back on free, with nothing more to report: a later pass adds nothing.
    expect((await frank.viewer()).plan).toBe('free');
    await world.reportOverage();
    await world.advance(40 * DAY);
    expect(await frank.totalCharged()).toBe(2100);
  });

  it('cancel at the period end keeps the plan until then and bills the period’s overage on the last invoice', async () => {
    const grace = await world.customer(`acct_cancel_end_${run}`);
    expect((await grace.subscribe('starter')).errors).toBeUndefined();
    expect(codeOf(await grace.use(1300))).toBeNull();
    const scheduled = await grace.cancel(true);
    expect(scheduled.data?.cancelSubscription).toMatchObject({ status: 'ACTIVE', cancelAtPeriodEnd: true });
    expect((await grace.viewer()).plan).toBe('starter');
    await world.reportOverage();

    await world.advance(31 * DAY + FINALIZATION_GRACE);
    expect((await grace.viewer()).plan).toBe('free');
    const invoices = await grace.invoices();
    const last = invoices.at(-1);
    expect(last && linesOf(last, 'price_ai_requests_overage')).toEqual([[300, 300]]);
    // The plan is not charged again for a period that never starts.
    expect(last && linesOf(last, 'price_starter_monthly')).toEqual([]);
    expect(await grace.totalCharged()).toBe(1900 + 300);
  });

  it('cancel now waits for model calls holding credits beyond the balance, so the final invoice bills them', async () => {
    const mona = await world.customer(`acct_cancel_in_flight_${run}`);
    expect((await mona.subscribe('starter')).errors).toBeUndefined();
    // A day into the period: a cancellation in the very second the period began ends a window of no length
    // (Stripe bills `start ≤ timestamp < end`), so nothing reported in it could be billed, whatever the service did.
    await world.advance(DAY);
    // claude-sonnet-4: 1,000,000 output tokens are 15,000 credits. 30,000 reserved with 20,000 included: 10,000
    // beyond the balance, admitted (no spend limit), the call still running.
    const reserved = await mona.service<{ reserveUsage: { id: string } }>(
      'mutation($input: ReserveUsageInput!) { reserveUsage(input: $input) { id } }',
      {
        input: {
          accountId: mona.accountId,
          model: 'claude-sonnet-4',
          inputTokens: 0,
          maxOutputTokens: 2_000_000,
        },
      },
    );
    const reservationId = reserved.data?.reserveUsage.id;
    expect(reservationId).toBeDefined();
    // Cancelling now would end the subscription before the call's overage could be billed on it: refused.
    const refused = await mona.cancel(false);
    expect(refused.errors?.[0]?.extensions).toMatchObject({
      code: 'CONFLICT',
      reason: 'CALLS_IN_FLIGHT',
      heldOverageCredits: 10_000,
      retryAfterSeconds: 300,
    });
    expect((await mona.viewer()).subscription?.status).toBe('ACTIVE');

    // The call ends and is committed; cancelling now bills its overage on the final invoice, to the cent.
    const committed = await mona.service<{ commitUsage: { credits: { billed: number } } }>(
      'mutation($input: CommitUsageInput!) { commitUsage(input: $input) { credits { billed } } }',
      { input: { accountId: mona.accountId, reservationId, inputTokens: 0, outputTokens: 2_000_000 } },
    );
    expect(committed.data?.commitUsage.credits.billed).toBe(10_000);
    const canceled = await mona.cancel(false);
    expect(canceled.errors).toBeUndefined();
    await world.advance(0);
    const final = lastInvoice(await mona.invoices(), 'subscription_cycle');
    expect(linesOf(final, 'price_ai_credits_overage')).toEqual([[10_000, 1200]]);
    expect(await mona.totalCharged()).toBe(1900 + 1200);
  });
});
