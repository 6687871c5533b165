import { DAY, FINALIZATION_GRACE, lastInvoice, linesOf, startWorld, type World } from './world';

/**
 * Seats and add-ons on one subscription (ADR 0024, "Seats and add-ons together"; docs/billing-rules.md rows 46
 * and 51): both are removed at the period end through the one schedule the subscription may have, so removing one
 * must keep the other's removal, also when seats are bought meanwhile (charged now) or set lower again. The renewal
 * then bills exactly what is kept: Professional $49.00 and two extra seats at $12.00.
 */
describe('seats and add-ons together', () => {
  let world: World;
  const run = Date.now().toString(36);
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(() => world.stop());

  const SEATS = 'seats { purchased atPeriodEnd }';
  type Seats = { seats: { purchased: number; atPeriodEnd: number | null } };

  it('an add-on removed after seats were removed keeps both removals, also through seats bought and set lower again; the renewal bills what is kept', async () => {
    const team = await world.customer(`acct_seats_addons_${run}`);
    expect((await team.subscribe('professional')).errors).toBeUndefined();
    const period = await team.period();
    expect((await team.setSeats<Seats>(8, SEATS)).errors).toBeUndefined();
    const bought = await team.gql('mutation { addAddon(input: { key: "extra_storage_10gb" }) { id } }');
    expect(bought.errors).toBeUndefined();

    await world.advance(10 * DAY);
    expect((await team.setSeats<Seats>(6, SEATS)).data?.setSeats.seats).toEqual({
      purchased: 8,
      atPeriodEnd: 6,
    });
    const removed = await team.gql('mutation { removeAddon(key: "extra_storage_10gb") { id } }');
    expect(removed.errors).toBeUndefined();
    // The add-on's removal made the period end's schedule again: the seats removed are still in it.
    const seats = await team.gql<{ viewer: { subscription: { seats: { atPeriodEnd: number | null } } } }>(
      '{ viewer { subscription { seats { atPeriodEnd } } } }',
    );
    expect(seats.data?.viewer.subscription.seats.atPeriodEnd).toBe(6);
    // Seats bought now, while both removals wait: charged at once, and the add-on's removal stays in the schedule
    // made again after the charge.
    expect((await team.setSeats<Seats>(9, SEATS)).data?.setSeats.seats).toEqual({
      purchased: 9,
      atPeriodEnd: null,
    });
    const added = lastInvoice(await team.invoices(), 'subscription_update');
    expect(added.total).toBeGreaterThan(0);
    expect(added.lines.map((line) => line.price)).not.toContain('price_extra_storage_10gb_monthly');
    // Then fewer again, for the period end: 7 seats (2 extra) with the add-on still going.
    expect((await team.setSeats<Seats>(7, SEATS)).data?.setSeats.seats).toEqual({
      purchased: 9,
      atPeriodEnd: 7,
    });
    const addons = await team.gql<{ viewer: { addons: Array<{ key: string; endsAt: string | null }> } }>(
      '{ viewer { addons { key endsAt } } }',
    );
    expect(addons.data?.viewer.addons).toEqual([
      { key: 'extra_storage_10gb', endsAt: new Date(period.end).toISOString() },
    ]);

    await world.advance(Math.ceil((period.end - period.start) / 1000) - 10 * DAY + FINALIZATION_GRACE);
    const renewal = lastInvoice(await team.invoices(), 'subscription_cycle');
    expect(linesOf(renewal, 'price_professional_monthly')).toEqual([[1, 4900]]);
    expect(linesOf(renewal, 'price_professional_seat_monthly')).toEqual([[2, 2400]]);
    expect(renewal.lines.map((line) => line.price)).not.toContain('price_extra_storage_10gb_monthly');
    expect(renewal.total).toBe(4900 + 2400);
  });
});
