import type Stripe from 'stripe';
import { ConfigError, loadConfig } from '../../src/config';
import {
  currentPhaseItems,
  itemChangesFor,
  newSubscriptionItems,
  planItemOf,
} from '../../src/services/subscription-items';
import {
  nextPassDelayMs,
  overageIdentifier,
  overageOf,
  reportTimestamp,
} from '../../src/services/usage/overage-report';

describe('overage arithmetic', () => {
  it('is max(0, peak − included), and nothing unless the rule bills overage on a limit', () => {
    expect(overageOf({ peak: 1250, included: 1000, overLimit: 'bill_overage' })).toBe(250);
    expect(overageOf({ peak: 900, included: 1000, overLimit: 'bill_overage' })).toBe(0);
    expect(overageOf({ peak: 1250, included: 1000, overLimit: 'block' })).toBe(0);
    expect(overageOf({ peak: 1250, included: null, overLimit: 'bill_overage' })).toBe(0);
  });

  it('names a report by its counter and the total it raises the counter to', () => {
    expect(overageIdentifier('0b6f…', 250)).toBe('ovg_0b6f…_250');
  });

  it('stamps a report with the second before now, kept inside the counter period', () => {
    const start = new Date('2026-11-01T00:00:00Z');
    const end = new Date('2026-12-01T00:00:00Z');
    const seconds = (iso: string) => Date.parse(iso) / 1000;
    // A second before: a cancellation in the same second (its window ends there, exclusive) still bills it.
    expect(reportTimestamp(start, end, new Date('2026-11-15T12:00:00.900Z'))).toBe(
      seconds('2026-11-15T11:59:59Z'),
    );
    expect(reportTimestamp(start, end, new Date('2026-12-01T00:10:00Z'))).toBe(
      seconds('2026-12-01T00:00:00Z') - 1,
    );
    expect(reportTimestamp(start, end, new Date('2026-10-31T23:00:00Z'))).toBe(
      seconds('2026-11-01T00:00:00Z'),
    );
  });

  it('waits the interval, or until shortly before the earliest open period ends, never less than the minimum', () => {
    const now = new Date('2026-11-27T10:00:00Z');
    const base = { now, intervalMs: 60_000, closeLeadMs: 30_000, minimumMs: 1000 };
    expect(nextPassDelayMs({ ...base, earliestPeriodEnd: null })).toBe(60_000);
    expect(nextPassDelayMs({ ...base, earliestPeriodEnd: new Date('2026-12-01T00:00:00Z') })).toBe(60_000);
    expect(nextPassDelayMs({ ...base, earliestPeriodEnd: new Date('2026-11-27T10:00:40Z') })).toBe(10_000);
    expect(nextPassDelayMs({ ...base, earliestPeriodEnd: new Date('2026-11-27T10:00:30Z') })).toBe(1000);
  });
});

function item(id: string, price: string, usage: 'licensed' | 'metered', quantity?: number) {
  return {
    id,
    quantity,
    price: { id: price, recurring: { usage_type: usage } },
  } as unknown as Stripe.SubscriptionItem;
}

function subscription(...items: Stripe.SubscriptionItem[]): Stripe.Subscription {
  return { items: { data: items } } as unknown as Stripe.Subscription;
}

describe('subscription items', () => {
  // Stripe may list a metered item first; the plan is always the licensed one.
  const starterMonthly = subscription(
    item('si_ai', 'price_ai_month', 'metered'),
    item('si_plan', 'price_starter_month', 'licensed', 1),
    item('si_storage', 'price_storage_month', 'metered'),
  );

  it('finds the plan item, never a metered one', () => {
    expect(planItemOf(starterMonthly)?.id).toBe('si_plan');
    expect(planItemOf(subscription(item('si_ai', 'price_ai_month', 'metered')))).toBeUndefined();
  });

  it('gives metered prices no quantity', () => {
    expect(newSubscriptionItems('price_plan', ['price_ai', 'price_storage'])).toEqual([
      { price: 'price_plan', quantity: 1 },
      { price: 'price_ai' },
      { price: 'price_storage' },
    ]);
    expect(currentPhaseItems(starterMonthly)).toEqual([
      { price: 'price_ai_month' },
      { price: 'price_starter_month', quantity: 1 },
      { price: 'price_storage_month' },
    ]);
  });

  it('keeps the metered items a same-interval plan change still bills', () => {
    expect(
      itemChangesFor(starterMonthly, 'price_professional_month', ['price_ai_month', 'price_storage_month']),
    ).toEqual([{ id: 'si_plan', price: 'price_professional_month', quantity: 1 }]);
  });

  it('swaps the metered items for the other interval’s on an interval change', () => {
    expect(
      itemChangesFor(starterMonthly, 'price_starter_year', ['price_ai_year', 'price_storage_year']),
    ).toEqual([
      { id: 'si_plan', price: 'price_starter_year', quantity: 1 },
      { id: 'si_ai', deleted: true },
      { id: 'si_storage', deleted: true },
      { price: 'price_ai_year' },
      { price: 'price_storage_year' },
    ]);
  });

  it('drops every metered item for a plan that bills no overage (enterprise)', () => {
    expect(itemChangesFor(starterMonthly, 'price_enterprise_custom', [])).toEqual([
      { id: 'si_plan', price: 'price_enterprise_custom', quantity: 1 },
      { id: 'si_ai', deleted: true },
      { id: 'si_storage', deleted: true },
    ]);
  });
});

describe('USAGE_REPORT_INTERVAL_SECONDS', () => {
  const base = { DATABASE_URL: 'postgres://localhost/billing', AUTH_JWT_SECRET: 'x'.repeat(40) };

  it('defaults to a minute and is read in seconds', () => {
    expect(loadConfig(base).billing.usageReportIntervalMs).toBe(60_000);
    expect(loadConfig({ ...base, USAGE_REPORT_INTERVAL_SECONDS: '15' }).billing.usageReportIntervalMs).toBe(
      15_000,
    );
  });

  it('refuses 0 and more than an hour, naming the variable', () => {
    for (const value of ['0', '3601', 'soon']) {
      expect(() => loadConfig({ ...base, USAGE_REPORT_INTERVAL_SECONDS: value })).toThrow(ConfigError);
      expect(() => loadConfig({ ...base, USAGE_REPORT_INTERVAL_SECONDS: value })).toThrow(
        /USAGE_REPORT_INTERVAL_SECONDS/,
      );
    }
  });
});
