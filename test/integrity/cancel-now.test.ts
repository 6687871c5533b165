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
});
