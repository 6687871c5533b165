import { codeOf, DAY, lastInvoice, linesOf, startWorld, type World } from './world';

/**
 * Cancel now raced by the customer's own use (docs/billing-rules.md row 16): every request served on the plan past
 * its allowance is on the final invoice, whether it landed before, during or after the cancellation's overage report.
 */
describe('cancel now, hostile', () => {
  let world: World;
  const run = Date.now().toString(36);
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(() => world.stop());

  it('row 16: uses sent during a cancel now are all billed, on the final invoice or by the free plan’s limit', async () => {
    const racer = await world.customer(`acct_cancel_race_${run}`);
    expect((await racer.subscribe('starter')).errors).toBeUndefined();
    // A second into the period: Stripe bills usage stamped before the cancel's second (row 16).
    await world.advance(DAY);
    expect(codeOf(await racer.use(1000))).toBeNull();
    // 60 uses of 10 past the allowance, spread over the cancellation's Stripe calls.
    const uses = Array.from({ length: 60 }, (_, i) =>
      new Promise((resolve) => setTimeout(resolve, i)).then(() => racer.use(10)),
    );
    const [canceled, ...answers] = await Promise.all([racer.cancel(false), ...uses]);
    expect(canceled.errors).toBeUndefined();
    const served = answers.filter((answer) => codeOf(answer) === null).length * 10;
    await world.reportOverage();
    await world.advance(0);

    const final = lastInvoice(await racer.invoices(), 'subscription_cycle');
    const billed = linesOf(final, 'price_ai_requests_overage').reduce(
      (total, [quantity]) => total + (quantity ?? 0),
      0,
    );
    const viewer = await racer.viewer();
    const onFree = viewer.usage.find((row) => row.metric === 'ai_requests')?.used ?? 0;
    expect(viewer.plan).toBe('free');
    // What the plan served past its allowance is billed at $0.01 each; what came after the cancel is the free plan's.
    expect(billed + onFree).toBe(served);
    expect(final.total).toBe(billed);
  });
});
