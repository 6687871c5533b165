import {
  type Customer,
  codeOf,
  DAY,
  FINALIZATION_GRACE,
  lastInvoice,
  linesOf,
  startWorld,
  type World,
} from './world';

/**
 * Add-ons beside the plan (docs/billing-rules.md rows 49–52, ADR 0024). Buying one, or more units of one, charges
 * the rest of the period now; Stripe prorates a quantity change by the time left: unit amount × added units ×
 * (period end − now) / (period end − period start), rounded to the cent
 * (https://docs.stripe.com/billing/subscriptions/prorations). Removing one takes effect at the period end: the
 * renewal no longer bills it and nothing is credited.
 */
describe('add-ons', () => {
  let world: World;
  const run = Date.now().toString(36);
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(() => world.stop());

  function share(amount: number, start: number, end: number, at: number): number {
    return Math.round((amount * (end - at)) / (end - start));
  }

  async function storageLimit(customer: Customer): Promise<number | null> {
    const answer = await customer.gql<{
      viewer: { entitlements: Array<{ feature: string; limit: number | null }> };
    }>('{ viewer { entitlements { feature limit } } }');
    return answer.data?.viewer.entitlements.find((row) => row.feature === 'storage_mb')?.limit ?? null;
  }

  async function addons(customer: Customer) {
    const answer = await customer.gql<{
      viewer: { addons: Array<{ key: string; quantity: number; unitAmount: number; endsAt: string | null }> };
    }>('{ viewer { addons { key quantity unitAmount endsAt } } }');
    return answer.data?.viewer.addons ?? [];
  }

  const add = (customer: Customer, key: string, quantity?: number) =>
    customer.gql<{ addAddon: { id: string } }>(
      'mutation($input: AddAddonInput!) { addAddon(input: $input) { id } }',
      { input: { key, ...(quantity === undefined ? {} : { quantity }) } },
    );

  it('is refused without a subscription, on a plan that may not carry it, and past its quantity', async () => {
    const nina = await world.customer(`acct_addon_refusals_${run}`);
    const none = await add(nina, 'extra_storage_10gb');
    expect(codeOf(none)).toBe('BAD_USER_INPUT');
    expect(none.errors?.[0]?.extensions?.reason).toBe('no_subscription');
    expect((await nina.subscribe('professional')).errors).toBeUndefined();
    const notEligible = await add(nina, 'priority_support');
    expect(notEligible.errors?.[0]?.extensions?.reason).toBe('plan_not_eligible');
    const tooMany = await add(nina, 'extra_storage_10gb', 11);
    expect(tooMany.errors?.[0]?.extensions?.reason).toBe('quantity');
    // Nothing was bought: the only invoice is the plan's first.
    expect((await nina.invoices()).map((invoice) => invoice.total)).toEqual([4900]);
  });

  it('buying charges the rest of the period now, to the cent, and the storage allowance grows at once', async () => {
    const olga = await world.customer(`acct_addon_buy_${run}`);
    expect((await olga.subscribe('starter')).errors).toBeUndefined();
    const period = await olga.period();
    expect(await storageLimit(olga)).toBe(1024);
    await world.advance(10 * DAY);
    const bought = await add(olga, 'extra_storage_10gb');
    expect(bought.errors).toBeUndefined();
    const at = period.start + 10 * DAY * 1000;
    const charge = share(500, period.start, period.end, at);
    const update = lastInvoice(await olga.invoices(), 'subscription_update');
    expect(update.status).toBe('paid');
    expect(linesOf(update, 'price_extra_storage_10gb_monthly')).toEqual([[1, charge]]);
    expect(update.total).toBe(charge);
    // The period's storage allowance is weighed by time on each, as for a plan change (docs/billing-rules.md).
    const weighed = (included: number, from: number, to: number, when: number) =>
      included - share(from, period.start, period.end, when) + share(to, period.start, period.end, when);
    const firstIncluded = weighed(1024, 1024, 1024 + 10_240, at);
    expect(await storageLimit(olga)).toBe(firstIncluded);
    // The same request again is a retry: nothing more is charged.
    expect((await add(olga, 'extra_storage_10gb')).errors).toBeUndefined();
    expect(
      (await olga.invoices()).filter((invoice) => invoice.billingReason === 'subscription_update'),
    ).toHaveLength(1);

    // Two more units five days later: the two added units for the time left.
    await world.advance(5 * DAY);
    expect((await add(olga, 'extra_storage_10gb', 3)).errors).toBeUndefined();
    const more = lastInvoice(await olga.invoices(), 'subscription_update');
    const moreCharge = share(2 * 500, period.start, period.end, period.start + 15 * DAY * 1000);
    expect(more.total).toBe(moreCharge);
    const secondAt = period.start + 15 * DAY * 1000;
    expect(await storageLimit(olga)).toBe(weighed(firstIncluded, 1024 + 10_240, 1024 + 3 * 10_240, secondAt));
    expect(await addons(olga)).toEqual([
      { key: 'extra_storage_10gb', quantity: 3, unitAmount: 500, endsAt: null },
    ]);

    // The renewal bills the plan and the three units for the next month.
    await world.advance(Math.ceil((period.end - period.start) / 1000) - 15 * DAY + FINALIZATION_GRACE);
    const renewal = lastInvoice(await olga.invoices(), 'subscription_cycle');
    expect(linesOf(renewal, 'price_starter_monthly')).toEqual([[1, 1900]]);
    expect(linesOf(renewal, 'price_extra_storage_10gb_monthly')).toEqual([[3, 1500]]);
    expect(renewal.total).toBe(3400);
  });

  it('fewer units take effect at the period end: the units paid for stay until then; the renewal bills the fewer; nothing is refunded', async () => {
    const rosa = await world.customer(`acct_addon_fewer_${run}`);
    expect((await rosa.subscribe('starter')).errors).toBeUndefined();
    const period = await rosa.period();
    expect((await add(rosa, 'extra_storage_10gb', 3)).errors).toBeUndefined();
    await world.advance(5 * DAY);
    const limitWithThree = await storageLimit(rosa);
    const invoicesBefore = (await rosa.invoices()).length;
    const units = async () => {
      const answer = await rosa.gql<{
        viewer: { addons: Array<{ quantity: number; quantityAtPeriodEnd: number | null }> };
      }>('{ viewer { addons { quantity quantityAtPeriodEnd } } }');
      return answer.data?.viewer.addons;
    };

    expect((await add(rosa, 'extra_storage_10gb', 1)).errors).toBeUndefined();
    expect((await rosa.invoices()).length).toBe(invoicesBefore);
    expect(await units()).toEqual([{ quantity: 3, quantityAtPeriodEnd: 1 }]);
    expect(await storageLimit(rosa)).toBe(limitWithThree);
    // Back to 3 before the period end: the reduction is gone, and nothing is charged (they are paid for).
    expect((await add(rosa, 'extra_storage_10gb', 3)).errors).toBeUndefined();
    expect(await units()).toEqual([{ quantity: 3, quantityAtPeriodEnd: null }]);
    expect((await add(rosa, 'extra_storage_10gb', 2)).errors).toBeUndefined();
    expect((await rosa.invoices()).length).toBe(invoicesBefore);
    const nextBill = await rosa.gql<{ viewer: { upcomingInvoice: { total: number } } }>(
      '{ viewer { upcomingInvoice { total } } }',
    );
    expect(nextBill.data?.viewer.upcomingInvoice.total).toBe(1900 + 2 * 500);

    await world.advance(Math.ceil((period.end - period.start) / 1000) - 5 * DAY + FINALIZATION_GRACE);
    const renewal = lastInvoice(await rosa.invoices(), 'subscription_cycle');
    expect(linesOf(renewal, 'price_extra_storage_10gb_monthly')).toEqual([[2, 1000]]);
    expect(renewal.total).toBe(1900 + 1000);
    expect(
      (await rosa.invoices()).flatMap((invoice) => invoice.lines).filter((line) => line.amount < 0),
    ).toEqual([]);
    expect(await units()).toEqual([{ quantity: 2, quantityAtPeriodEnd: null }]);
  });

  it('removing keeps it, and what it grants, until the period end; the renewal no longer bills it; nothing is refunded', async () => {
    const pia = await world.customer(`acct_addon_remove_${run}`);
    expect((await pia.subscribe('starter')).errors).toBeUndefined();
    const period = await pia.period();
    expect((await add(pia, 'priority_support')).errors).toBeUndefined();
    const feature = await pia.gql<{ viewer: { feature: { allowed: boolean } } }>(
      '{ viewer { feature(key: "priority_support") { allowed } } }',
    );
    expect(feature.data?.viewer.feature.allowed).toBe(true);
    await world.advance(3 * DAY);
    const removed = await pia.gql<{ removeAddon: { id: string } }>(
      'mutation { removeAddon(key: "priority_support") { id } }',
    );
    expect(removed.errors).toBeUndefined();
    expect(await addons(pia)).toEqual([
      { key: 'priority_support', quantity: 1, unitAmount: 2900, endsAt: new Date(period.end).toISOString() },
    ]);
    const stillOn = await pia.gql<{ viewer: { feature: { allowed: boolean } } }>(
      '{ viewer { feature(key: "priority_support") { allowed } } }',
    );
    expect(stillOn.data?.viewer.feature.allowed).toBe(true);
    // The next bill is what the renewal will charge: the plan alone.
    const nextBill = await pia.gql<{
      viewer: { upcomingInvoice: { total: number; lines: Array<{ description: string }> } };
    }>('{ viewer { upcomingInvoice { total lines { description } } } }');
    expect(nextBill.data?.viewer.upcomingInvoice.total).toBe(1900);
    expect(nextBill.data?.viewer.upcomingInvoice.lines.map((line) => line.description).join()).not.toMatch(
      /priority/i,
    );

    await world.advance(Math.ceil((period.end - period.start) / 1000) - 3 * DAY + FINALIZATION_GRACE);
    const renewal = lastInvoice(await pia.invoices(), 'subscription_cycle');
    expect(renewal.lines.map((line) => line.price)).not.toContain('price_priority_support_monthly');
    expect(renewal.total).toBe(1900);
    const all = await pia.invoices();
    expect(all.flatMap((invoice) => invoice.lines).filter((line) => line.amount < 0)).toEqual([]);
    expect(await addons(pia)).toEqual([]);
    const off = await pia.gql<{ viewer: { feature: { allowed: boolean } } }>(
      '{ viewer { feature(key: "priority_support") { allowed } } }',
    );
    expect(off.data?.viewer.feature.allowed).toBe(false);
  });
  it('an upgrade to a plan that may not carry an add-on drops it at the change, crediting its unused time; the others go on', async () => {
    const quinn = await world.customer(`acct_addon_upgrade_${run}`);
    expect((await quinn.subscribe('starter')).errors).toBeUndefined();
    const period = await quinn.period();
    expect((await add(quinn, 'priority_support')).errors).toBeUndefined();
    expect((await add(quinn, 'extra_storage_10gb', 2)).errors).toBeUndefined();
    await world.advance(10 * DAY);
    const upgraded = await quinn.change({ planKey: 'professional' });
    expect(upgraded.errors).toBeUndefined();
    const at = period.start + 10 * DAY * 1000;
    const update = lastInvoice(await quinn.invoices(), 'subscription_update');
    // Stripe credits the unused time of the dropped item (https://docs.stripe.com/billing/subscriptions/prorations).
    expect(linesOf(update, 'price_priority_support_monthly')).toEqual([
      [1, -share(2900, period.start, period.end, at)],
    ]);
    // Kept as it was: no proration line for the storage units.
    expect(linesOf(update, 'price_extra_storage_10gb_monthly')).toEqual([]);
    expect(await addons(quinn)).toEqual([
      { key: 'extra_storage_10gb', quantity: 2, unitAmount: 500, endsAt: null },
    ]);
    const feature = await quinn.gql<{ viewer: { feature: { allowed: boolean } } }>(
      '{ viewer { feature(key: "priority_support") { allowed } } }',
    );
    expect(feature.data?.viewer.feature.allowed).toBe(true);
  });
});
