/**
 * The seats of a plan priced per seat: how many are paid for and taken, what one more costs, and a quantity
 * control. More seats are charged at once (prorated to the period end); fewer take effect at the period end.
 */
import type { AccountView, PlanView } from './api.js';
import { count, day, h, money } from './dom.js';

export interface SeatsActions {
  typeSeats(quantity: string): void;
  setSeats(): void;
}

/** The section, or null when the subscription's plan is not priced per seat. */
export function seatsSection(
  account: AccountView,
  typed: string | null,
  busy: boolean,
  actions: SeatsActions,
): HTMLElement | null {
  const seats = account.subscription?.seats;
  if (!seats) return null;
  const price = seats.pricePerSeat;
  const input = h('input', {
    id: 'seats-quantity',
    name: 'seats',
    type: 'number',
    min: String(Math.max(1, seats.taken)),
    max: String(seats.maximum),
    value: typed ?? String(seats.atPeriodEnd ?? seats.purchased),
    oninput: (event) => actions.typeSeats((event.target as HTMLInputElement).value),
  });
  return h(
    'section',
    { id: 'seats' },
    h('h2', {}, 'Seats'),
    h(
      'p',
      { id: 'seats-line' },
      h('strong', { id: 'seats-purchased' }, count(seats.purchased)),
      ` seats, ${count(seats.taken)} taken. ${count(seats.included)} come with the plan; each one more is `,
      h(
        'strong',
        { id: 'seat-price' },
        `${money(price.amount, price.currency)} / ${price.interval.toLowerCase()}`,
      ),
      ` (up to ${count(seats.maximum)}).`,
    ),
    seats.atPeriodEnd !== null && account.subscription?.currentPeriodEnd
      ? h(
          'p',
          { class: 'notice', id: 'seats-scheduled' },
          `Goes down to ${count(seats.atPeriodEnd)} seats on ${day(account.subscription.currentPeriodEnd)}; ` +
            `the ${count(seats.purchased)} paid for stay until then.`,
        )
      : null,
    h(
      'div',
      { class: 'seats-control' },
      h('label', { for: 'seats-quantity' }, 'Seats '),
      input,
      h('button', { id: 'set-seats', disabled: busy, onclick: () => actions.setSeats() }, 'Update seats'),
    ),
    h(
      'p',
      { class: 'muted' },
      'More seats are charged now for the rest of the period; fewer take effect when it renews (no refund).',
    ),
  );
}

/** "+ $12.00 per extra seat (5 included)" for a plan card, or null when the plan is not priced per seat. */
export function seatPriceNote(plan: PlanView, interval: string): HTMLElement | null {
  const price = plan.seats?.prices.find((candidate) => candidate.interval === interval);
  if (!plan.seats || !price) return null;
  return h(
    'p',
    { class: 'muted seat-price', 'data-seat-price': plan.key },
    `${count(plan.seats.included)} seats included; + ${money(price.amount, price.currency)} per extra seat`,
  );
}
