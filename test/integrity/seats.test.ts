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
 * Seats of a plan priced per seat (docs/billing-rules.md rows 45–48, ADR 0024). Professional includes 5 seats and
 * sells each one beyond at $12.00 a month, up to 100. Prorations are Stripe's, by the second
 * (https://docs.stripe.com/billing/subscriptions/prorations): a quantity change at `at` in the period [start, end)
 * credits the old quantity's unused time, −round(old × price × (end − at) / (end − start)), and charges the new
 * quantity's remaining time, round(new × price × (end − at) / (end − start)), each line rounded once to the cent;
 * a new item has only the charge.
 */
describe('seats', () => {
  let world: World;
  const run = Date.now().toString(36);
  beforeAll(async () => {
    world = await startWorld({ BILLING_ALLOWED_REDIRECT_ORIGINS: 'http://localhost:3000' });
  });
  afterAll(() => world.stop());

  interface SeatsView {
    included: number;
    purchased: number;
    atPeriodEnd: number | null;
    maximum: number;
    taken: number;
    pricePerSeat: { amount: number; currency: string; interval: string };
  }

  const SEATS =
    'seats { included purchased atPeriodEnd maximum taken pricePerSeat { amount currency interval } }';

  async function seatsOf(customer: Customer): Promise<{ seats: SeatsView | null; limit: number | null }> {
    const answer = await customer.gql<{
      viewer: {
        subscription: { seats: SeatsView | null };
        usage: Array<{ metric: string; included: number }>;
      };
    }>(`{ viewer { subscription { ${SEATS} } usage { metric included } } }`);
    const viewer = answer.data?.viewer;
    return {
      seats: viewer?.subscription.seats ?? null,
      limit: viewer?.usage.find((row) => row.metric === 'seats')?.included ?? null,
    };
  }

  /** The next bill (viewer.upcomingInvoice): its total and the [quantity, amount] of its extra-seat lines. */
  async function nextBillOf(customer: Customer) {
    const answer = await customer.gql<{
      viewer: {
        upcomingInvoice: {
          total: number;
          lines: Array<{ description: string; quantity: number; amount: number }>;
        };
      };
    }>('{ viewer { upcomingInvoice { total lines { description quantity amount } } } }');
    const bill = answer.data?.viewer.upcomingInvoice;
    return {
      total: bill?.total,
      seatLines: bill?.lines
        .filter((line) => /seat/i.test(line.description))
        .map((line) => [line.quantity, line.amount]),
    };
  }

  /** round(cents × the part of [start, end) after `at`): one proration line, rounded once. */
  function prorated(cents: number, { start, end }: { start: number; end: number }, at: number): number {
    return Math.round((cents * (end - at)) / (end - start));
  }

  it('row 45: adding seats charges the prorated extra seats now; the gauge limit follows at once', async () => {
    const team = await world.customer(`acct_seats_add_${run}`);
    expect((await team.subscribe('professional')).errors).toBeUndefined();
    const period = await team.period();
    expect(await seatsOf(team)).toEqual({
      seats: {
        included: 5,
        purchased: 5,
        atPeriodEnd: null,
        maximum: 100,
        taken: 0,
        pricePerSeat: { amount: 1200, currency: 'usd', interval: 'MONTH' },
      },
      limit: 5,
    });
    // The gauge's level is what is recorded: 5 seats taken, a 6th refused.
    expect(codeOf(await team.use(5, 'seats'))).toBeNull();
    const refused = await team.use(6, 'seats');
    expect(codeOf(refused)).toBe('USAGE_LIMIT_EXCEEDED');
    expect(refused.errors?.[0]?.extensions).toMatchObject({ remedy: 'setSeats', limit: 5, maximum: 100 });
    expect(refused.errors?.[0]?.message).toMatch(/setSeats/);

    await world.advance(10 * DAY);
    const seven = await team.setSeats<{ seats: SeatsView }>(7, SEATS);
    expect(seven.errors).toBeUndefined();
    expect(seven.data?.setSeats.seats).toMatchObject({ purchased: 7, taken: 5, atPeriodEnd: null });
    // Two extra seats for the rest of the period: round(2 × $12.00 × (end − at) / (end − start)), charged now.
    // The period is the emulator's month from now; in a 31-day one (December): 2400 × 21/31 = 1625.8 → $16.26.
    const at = period.start + 10 * DAY * 1000;
    const twoSeats = prorated(2 * 1200, period, at);
    const charge = lastInvoice(await team.invoices(), 'subscription_update');
    expect(charge).toMatchObject({ status: 'paid', total: twoSeats, amountPaid: twoSeats });
    expect(linesOf(charge, 'price_professional_seat_monthly')).toEqual([[2, twoSeats]]);
    expect(charge.lines.every((line) => line.proration)).toBe(true);
    expect((await seatsOf(team)).limit).toBe(7);
    expect(codeOf(await team.use(7, 'seats'))).toBeNull();

    // The same target again changes nothing and charges nothing.
    const before = (await team.invoices()).length;
    expect((await team.setSeats<{ seats: SeatsView }>(7, SEATS)).errors).toBeUndefined();
    expect((await team.invoices()).length).toBe(before);

    // 7 → 9 five days later: the 2 seats' unused time credited, the 4 seats' remaining time charged; in a 31-day
    // period −round(2400 × 16/31) = −$12.39 and +round(4800 × 16/31) = +$24.77: $12.38 charged now.
    await world.advance(5 * DAY);
    expect((await team.setSeats<{ seats: SeatsView }>(9, SEATS)).errors).toBeUndefined();
    const later = period.start + 15 * DAY * 1000;
    const second = lastInvoice(await team.invoices(), 'subscription_update');
    expect(linesOf(second, 'price_professional_seat_monthly').sort((a, b) => a[1] - b[1])).toEqual([
      [2, -prorated(2 * 1200, period, later)],
      [4, prorated(4 * 1200, period, later)],
    ]);
    expect(second.total).toBe(prorated(4 * 1200, period, later) - prorated(2 * 1200, period, later));

    // The renewal bills the plan and the 4 extra seats for the whole month.
    await world.advance(Math.ceil((period.end - later) / 1000) + FINALIZATION_GRACE);
    const renewal = lastInvoice(await team.invoices(), 'subscription_cycle');
    expect(linesOf(renewal, 'price_professional_monthly')).toEqual([[1, 4900]]);
    expect(linesOf(renewal, 'price_professional_seat_monthly')).toEqual([[4, 4 * 1200]]);
    expect(renewal.total).toBe(4900 + 4800);
  });

  it('row 46: removing seats takes effect at the period end; paid seats are kept until then, nothing refunded', async () => {
    const team = await world.customer(`acct_seats_remove_${run}`);
    expect((await team.subscribe('professional')).errors).toBeUndefined();
    const period = await team.period();
    expect((await team.setSeats<{ seats: SeatsView }>(8, SEATS)).errors).toBeUndefined();
    // Three extra seats from the first second of the period: the whole month's price.
    const added = lastInvoice(await team.invoices(), 'subscription_update');
    expect(linesOf(added, 'price_professional_seat_monthly')).toEqual([[3, 3 * 1200]]);

    await world.advance(10 * DAY);
    const invoicesBefore = (await team.invoices()).length;
    const six = await team.setSeats<{ seats: SeatsView }>(6, SEATS);
    expect(six.errors).toBeUndefined();
    expect(six.data?.setSeats.seats).toMatchObject({ purchased: 8, atPeriodEnd: 6 });
    expect((await team.invoices()).length).toBe(invoicesBefore);
    // The next bill shows what the renewal will charge: 1 extra seat, not the 3 paid for now.
    expect(await nextBillOf(team)).toEqual({ total: 4900 + 1200, seatLines: [[1, 1200]] });
    // The 8 seats paid for stay usable until the period end.
    expect((await seatsOf(team)).limit).toBe(8);
    expect(codeOf(await team.use(8, 'seats'))).toBe(null);
    expect(codeOf(await team.use(9, 'seats'))).toBe('USAGE_LIMIT_EXCEEDED');
    expect(codeOf(await team.use(6, 'seats'))).toBeNull();

    await world.advance(
      Math.ceil((period.end - (period.start + 10 * DAY * 1000)) / 1000) + FINALIZATION_GRACE,
    );
    const renewal = lastInvoice(await team.invoices(), 'subscription_cycle');
    // One extra seat from the renewal on; no credit for the two given up (rule 46: no refund).
    expect(linesOf(renewal, 'price_professional_seat_monthly')).toEqual([[1, 1200]]);
    expect(linesOf(renewal, 'price_professional_monthly')).toEqual([[1, 4900]]);
    expect(renewal.lines.filter((line) => line.amount < 0)).toEqual([]);
    expect(renewal.total).toBe(4900 + 1200);
    expect(await seatsOf(team)).toMatchObject({
      seats: { purchased: 6, atPeriodEnd: null, taken: 6 },
      limit: 6,
    });
    expect(codeOf(await team.use(7, 'seats'))).toBe('USAGE_LIMIT_EXCEEDED');
  });

  it('row 47: fewer seats than are taken is refused, and nothing is written', async () => {
    const team = await world.customer(`acct_seats_taken_${run}`);
    expect((await team.subscribe('professional')).errors).toBeUndefined();
    expect((await team.setSeats<{ seats: SeatsView }>(7, SEATS)).errors).toBeUndefined();
    expect(codeOf(await team.use(6, 'seats'))).toBeNull();
    const invoices = (await team.invoices()).length;
    const refused = await team.setSeats<{ seats: SeatsView }>(5, SEATS);
    expect(codeOf(refused)).toBe('SEATS_IN_USE');
    expect(refused.errors?.[0]?.extensions).toMatchObject({ taken: 6, requested: 5 });
    expect((await seatsOf(team)).seats).toMatchObject({ purchased: 7, atPeriodEnd: null, taken: 6 });
    expect((await team.invoices()).length).toBe(invoices);
    // Down to what is taken is fine (at the period end).
    expect((await team.setSeats<{ seats: SeatsView }>(6, SEATS)).data?.setSeats.seats).toMatchObject({
      purchased: 7,
      atPeriodEnd: 6,
    });
  });

  it('seats changed in Stripe (support in the Dashboard) are what the service shows, limits and bills', async () => {
    // Stripe is the system of record for what is billed: a quantity set outside this API must not leave the seats
    // view, the `seats` limit and the next bill disagreeing with what Stripe charges.
    const team = await world.customer(`acct_seats_dashboard_${run}`);
    expect((await team.subscribe('professional')).errors).toBeUndefined();
    expect((await team.setSeats<{ seats: SeatsView }>(7, SEATS)).errors).toBeUndefined();
    const stripe = world.stack.stripe;
    const [subscription] = (await stripe.subscriptions.list({ customer: await team.stripeCustomerId() }))
      .data;
    const seatItem = subscription.items.data.find(
      (item) => item.price.lookup_key === 'price_professional_seat_monthly',
    );
    expect(seatItem?.quantity).toBe(2);
    await stripe.subscriptionItems.update(seatItem?.id as string, {
      quantity: 4,
      proration_behavior: 'none',
    });
    await world.stack.flushWebhooks();
    expect(await seatsOf(team)).toMatchObject({ seats: { included: 5, purchased: 9 }, limit: 9 });
    expect(codeOf(await team.use(9, 'seats'))).toBeNull();
    expect(await nextBillOf(team)).toEqual({ total: 4900 + 4 * 1200, seatLines: [[4, 4800]] });
  });

  it('row 48: more than the plan’s maximum is refused; a plan without per-seat pricing takes no seats', async () => {
    const team = await world.customer(`acct_seats_maximum_${run}`);
    expect((await team.subscribe('starter')).errors).toBeUndefined();
    const over = await team.setSeats<{ seats: SeatsView }>(21, SEATS);
    expect(codeOf(over)).toBe('BAD_USER_INPUT');
    expect(over.errors?.[0]?.message).toMatch(/from 1 to 20 seats/);
    expect(codeOf(await team.setSeats<{ seats: SeatsView }>(0, SEATS))).toBe('BAD_USER_INPUT');
    expect(
      (await team.invoices()).filter((invoice) => invoice.billingReason === 'subscription_update'),
    ).toEqual([]);
    // Starter at 4 seats: one extra at $8.00, from the period's first second.
    const four = await team.setSeats<{ seats: SeatsView }>(4, SEATS);
    expect(four.data?.setSeats.seats).toMatchObject({ included: 3, purchased: 4, maximum: 20 });
    expect(
      linesOf(lastInvoice(await team.invoices(), 'subscription_update'), 'price_starter_seat_monthly'),
    ).toEqual([[1, 800]]);

    const solo = await world.customer(`acct_seats_none_${run}`);
    expect(codeOf(await solo.setSeats<{ seats: SeatsView }>(2, SEATS))).toBe('NOT_FOUND');
  });

  it('a plan change keeps the seats paid for, on the new plan’s seat price', async () => {
    // Starter with 4 seats (1 extra at $8.00), upgraded 10 days in: Stripe credits the unused time of the starter
    // plan and of its seat, and charges professional's remaining time; professional includes 5, so no extra seat.
    const team = await world.customer(`acct_seats_upgrade_${run}`);
    expect((await team.subscribe('starter')).errors).toBeUndefined();
    const period = await team.period();
    expect((await team.setSeats<{ seats: SeatsView }>(4, SEATS)).errors).toBeUndefined();
    await world.advance(10 * DAY);
    const upgraded = await team.change({ planKey: 'professional' });
    expect(upgraded.errors).toBeUndefined();
    const at = period.start + 10 * DAY * 1000;
    const upgrade = lastInvoice(await team.invoices(), 'subscription_update');
    expect(linesOf(upgrade, 'price_starter_seat_monthly')).toEqual([[1, -prorated(800, period, at)]]);
    expect(linesOf(upgrade, 'price_starter_monthly')).toEqual([[1, -prorated(1900, period, at)]]);
    expect(linesOf(upgrade, 'price_professional_monthly')).toEqual([[1, prorated(4900, period, at)]]);
    expect(upgrade.total).toBe(
      prorated(4900, period, at) - prorated(1900, period, at) - prorated(800, period, at),
    );
    expect(await seatsOf(team)).toMatchObject({ seats: { included: 5, purchased: 5 }, limit: 5 });

    // Professional with 8 seats (3 extra), downgraded to starter at the period end: the 8 seats are kept, 5 of
    // them extra at $8.00 from the renewal on: $19.00 + 5 × $8.00 = $59.00.
    expect((await team.setSeats<{ seats: SeatsView }>(8, SEATS)).errors).toBeUndefined();
    const downgraded = await team.change({ planKey: 'starter' });
    expect(downgraded.data?.changeSubscription.scheduledChange?.plan.key).toBe('starter');
    await world.advance(Math.ceil((period.end - at) / 1000) + FINALIZATION_GRACE);
    const renewal = lastInvoice(await team.invoices(), 'subscription_cycle');
    expect(linesOf(renewal, 'price_starter_monthly')).toEqual([[1, 1900]]);
    expect(linesOf(renewal, 'price_starter_seat_monthly')).toEqual([[5, 4000]]);
    expect(renewal.total).toBe(5900);
    expect(await seatsOf(team)).toMatchObject({
      seats: { included: 3, purchased: 8, maximum: 20 },
      limit: 8,
    });
  });

  it('Checkout sells seats with the plan: 5 on starter is $19.00 + 2 extra × $8.00 = $35.00 at once', async () => {
    const team = await world.customer(`acct_seats_checkout_${run}`);
    const urls = { successUrl: 'http://localhost:3000/ok', cancelUrl: 'http://localhost:3000/no' };
    const checkout = (input: Record<string, unknown>) =>
      team.gql<{ createCheckoutSession: { id: string } }>(
        'mutation($input: CreateCheckoutSessionInput!) { createCheckoutSession(input: $input) { id } }',
        { input: { ...urls, planKey: 'starter', ...input } },
      );
    expect(codeOf(await checkout({ seats: 21 }))).toBe('BAD_USER_INPUT');
    const session = await checkout({ seats: 5 });
    expect(session.errors).toBeUndefined();
    const paid = await fetch(
      `${world.stack.emulator.url}/_emulator/checkout/sessions/${session.data?.createCheckoutSession.id}/complete`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
    );
    expect(paid.ok).toBe(true);
    await world.advance(0);
    const first = lastInvoice(await team.invoices(), 'subscription_create');
    expect(linesOf(first, 'price_starter_monthly')).toEqual([[1, 1900]]);
    expect(linesOf(first, 'price_starter_seat_monthly')).toEqual([[2, 1600]]);
    expect(first).toMatchObject({ status: 'paid', total: 3500 });
    expect(await seatsOf(team)).toMatchObject({ seats: { included: 3, purchased: 5 }, limit: 5 });
  });
});
