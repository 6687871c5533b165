/**
 * The checks of a plan's `seats:` (per-seat pricing, ADR 0024) that span several fields of the plan: a seat price
 * for every interval the plan sells (a subscription bills all its items on one interval), a maximum no lower than
 * what is included, and a `seats` limit that says the same number as `included` (it is what an account has before
 * buying any seat).
 */

export interface SeatsEntry {
  included: number;
  maximum: number;
  prices: Array<{ interval: string; lookupKey: string }>;
}

interface PlanWithSeats {
  key: string;
  salesLed: boolean;
  prices: Array<{ interval: string }>;
  limits: Array<{ metric: string; overLimit: string; included: number | 'unlimited' }>;
  seats: SeatsEntry | null;
}

type Fail = (path: Array<string | number>, message: string) => void;
type At = (...rest: Array<string | number>) => Array<string | number>;

export function checkSeats(plan: PlanWithSeats, at: At, fail: Fail): void {
  const seats = plan.seats;
  if (!seats) return;
  if (plan.salesLed || plan.prices.length === 0) {
    fail(at('seats'), `plan ${plan.key} has no self-serve price, so it cannot sell seats: remove seats`);
    return;
  }
  if (seats.maximum < seats.included) {
    fail(
      at('seats', 'maximum'),
      `plan ${plan.key}: maximum (${seats.maximum}) is below included (${seats.included})`,
    );
  }
  const sold = new Set(plan.prices.map((price) => price.interval));
  const priced = new Set<string>();
  seats.prices.forEach((price, index) => {
    if (priced.has(price.interval))
      fail(
        at('seats', 'prices', index, 'interval'),
        `plan ${plan.key} has more than one ${price.interval}ly seat price`,
      );
    if (!sold.has(price.interval))
      fail(
        at('seats', 'prices', index, 'interval'),
        `plan ${plan.key} sells no ${price.interval}ly plan price to add seats to`,
      );
    priced.add(price.interval);
  });
  for (const interval of sold) {
    if (!priced.has(interval))
      fail(at('seats', 'prices'), `plan ${plan.key} is sold ${interval}ly: add a ${interval}ly seat price`);
  }
  const limitIndex = plan.limits.findIndex((limit) => limit.metric === 'seats');
  const limit = plan.limits[limitIndex];
  if (limit && (limit.included !== seats.included || limit.overLimit !== 'block')) {
    fail(
      at('limits', limitIndex, 'included'),
      `plan ${plan.key} sells seats: its seats limit must be included: ${seats.included} (seats.included) with overLimit: block`,
    );
  }
}
