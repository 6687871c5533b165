/**
 * Aggregation of meter events for a metered price, as Stripe describes for billing meters
 * (https://docs.stripe.com/billing/subscriptions/usage-based/meters/configure): `sum` adds the
 * values, `count` counts the events, `last` takes the value of the latest event; only events with
 * `period_start ≤ timestamp < period_end` count.
 */

export type MeterFormula = 'sum' | 'count' | 'last';

export interface UsageEvent {
  timestamp: number;
  value: number;
}

export function aggregateUsage(
  formula: MeterFormula,
  events: readonly UsageEvent[],
  start: number,
  end: number,
): number {
  const inWindow = events.filter((e) => e.timestamp >= start && e.timestamp < end);
  switch (formula) {
    case 'count':
      return inWindow.length;
    case 'sum':
      return inWindow.reduce((s, e) => s + e.value, 0);
    case 'last': {
      if (inWindow.length === 0) return 0;
      let latest = inWindow[0];
      for (const e of inWindow) if (e.timestamp >= latest.timestamp) latest = e;
      return latest.value;
    }
  }
}

/**
 * Stripe bills whole units: a usage quantity from decimal values is rounded to an integer quantity
 * before pricing. Not documented precisely; the emulator rounds half up once.
 */
export function billableQuantity(usage: number): number {
  return Math.max(0, Math.round(usage));
}
