import Stripe from 'stripe';
import { ConfigError, loadConfig } from '../../src/config';
import {
  currentPhaseItems,
  itemChangesFor,
  newSubscriptionItems,
  planItemOf,
} from '../../src/services/subscriptions/subscription-items';
import { isDuplicateMeterEvent } from '../../src/services/stripe/meter-events';
import {
  isStampStillBillable,
  nextPassDelayMs,
  overageIdentifier,
  overageOf,
  type Period,
  reportTimestamp,
  resendTimestamp,
  retryDelayMs,
  stripePeriodEndAt,
} from '../../src/services/usage/overage-report';

const seconds = (iso: string) => Date.parse(iso) / 1000;
const period = (start: string, end: string): Period => ({ start: new Date(start), end: new Date(end) });

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
    const november = period('2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z');
    // The second before now: a cancellation in the same second (its window ends there, exclusive) still bills it.
    expect(reportTimestamp(november, [], new Date('2026-11-15T12:00:00.900Z'))).toBe(
      seconds('2026-11-15T11:59:59Z'),
    );
    expect(reportTimestamp(november, [], new Date('2026-12-01T00:10:00Z'))).toBe(
      seconds('2026-12-01T00:00:00Z') - 1,
    );
    expect(reportTimestamp(november, [], new Date('2026-10-31T23:00:00Z'))).toBe(
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

describe('when a report is stamped', () => {
  const november = period('2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z');
  const lastSecondOfNovember = seconds('2026-12-01T00:00:00Z') - 1;
  // The subscription renewed on December 1st: our row holds the new billing period.
  const renewed = [period('2026-12-01T00:00:00Z', '2027-01-01T00:00:00Z')];

  it('stamps a period that is over inside it while Stripe’s renewal draft still takes its usage, then now', () => {
    // Stripe keeps the renewal a draft for an hour; 45 minutes with our margin.
    for (const billing of [[], renewed]) {
      expect(reportTimestamp(november, billing, new Date('2026-12-01T00:44:00Z'))).toBe(lastSecondOfNovember);
      expect(reportTimestamp(november, billing, new Date('2026-12-01T00:46:00Z'))).toBe(
        seconds('2026-12-01T00:46:00Z') - 1,
      );
    }
    // Ten days late: the renewal is invoiced; stamped now, it is billed at the end of December.
    expect(reportTimestamp(november, renewed, new Date('2026-12-11T08:00:00Z'))).toBe(
      seconds('2026-12-11T08:00:00Z') - 1,
    );
  });

  it('stamps a monthly slice of a yearly subscription inside it while the Stripe year runs, within 35 days', () => {
    const year = [period('2026-01-15T00:00:00Z', '2027-01-15T00:00:00Z')];
    const octoberSlice = period('2026-10-15T00:00:00Z', '2026-11-15T00:00:00Z');
    const now = new Date('2026-12-05T12:00:00Z');
    // Ended 20 days ago, still inside the year Stripe has not invoiced: in the slice, on the year’s invoice.
    expect(reportTimestamp(octoberSlice, year, now)).toBe(seconds('2026-11-15T00:00:00Z') - 1);
    // Ended 81 days ago: Stripe takes nothing stamped that far back; now is in the same year, the same invoice.
    const augustSlice = period('2026-08-15T00:00:00Z', '2026-09-15T00:00:00Z');
    expect(reportTimestamp(augustSlice, year, now)).toBe(seconds('2026-12-05T12:00:00Z') - 1);
    // Without the subscription row, the slice's own end is all we know: it ended long ago.
    expect(reportTimestamp(octoberSlice, [], now)).toBe(seconds('2026-12-05T12:00:00Z') - 1);
  });

  it('takes a billing period from our subscription rows, and never later than what they tell', () => {
    const at = new Date('2026-11-10T00:00:00Z');
    // A row holding the time: its end.
    expect(stripePeriodEndAt(at, november, [period('2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z')])).toEqual(
      new Date('2026-12-01T00:00:00Z'),
    );
    // None: the usage period's end, unless a billing period began before it (an interval change on the 20th).
    expect(stripePeriodEndAt(at, november, [])).toEqual(new Date('2026-12-01T00:00:00Z'));
    expect(stripePeriodEndAt(at, november, [period('2026-11-20T00:00:00Z', '2027-11-20T00:00:00Z')])).toEqual(
      new Date('2026-11-20T00:00:00Z'),
    );
    // Outside the usage period and every row: the next second.
    const later = new Date('2026-12-10T00:00:00Z');
    expect(stripePeriodEndAt(later, november, [])).toEqual(new Date('2026-12-10T00:00:01Z'));
  });

  it('resends a pending report with its first stamp while that still bills, and re-stamps it after', () => {
    const now = new Date('2026-12-01T00:30:00Z');
    expect(resendTimestamp(lastSecondOfNovember, november, renewed, now)).toBe(lastSecondOfNovember);
    // A stamp taken in the middle of November is just as good until the draft closes.
    expect(resendTimestamp(seconds('2026-11-20T10:00:00Z'), november, renewed, now)).toBe(
      seconds('2026-11-20T10:00:00Z'),
    );
    const afterTheDraft = new Date('2026-12-01T02:00:00Z');
    expect(isStampStillBillable(lastSecondOfNovember, november, renewed, afterTheDraft)).toBe(false);
    expect(resendTimestamp(lastSecondOfNovember, november, renewed, afterTheDraft)).toBe(
      seconds('2026-12-01T02:00:00Z') - 1,
    );
    expect(resendTimestamp(null, november, renewed, now)).toBe(lastSecondOfNovember);
  });

  it('waits longer after each failure: a minute, doubled, at most half an hour', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 1000].map((failures) => retryDelayMs(failures) / 60_000)).toEqual([
      1, 2, 4, 8, 16, 30, 30, 30,
    ]);
  });
});

describe("Stripe's answer to a meter event identifier it already holds", () => {
  const identifier = 'ovg_0b6f_250';
  /** An SDK error as the SDK builds it from Stripe's HTTP answer. */
  const answer = (statusCode: number, error: Record<string, unknown>) =>
    Stripe.errors.StripeError.generate({
      statusCode,
      headers: { 'stripe-should-retry': 'false', 'request-id': 'req_duplicate' },
      requestId: 'req_duplicate',
      ...error,
    } as Parameters<typeof Stripe.errors.StripeError.generate>[0]);

  it('is recognised by status 400, type invalid_request_error, no code, and the message naming our identifier', () => {
    const duplicate = answer(400, {
      type: 'invalid_request_error',
      message: `An event already exists with identifier ${identifier}.`,
    });
    expect(duplicate).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(isDuplicateMeterEvent(duplicate, identifier)).toBe(true);
  });

  it('is not any other refusal: another identifier, a code, another status, another message', () => {
    const message = `An event already exists with identifier ${identifier}.`;
    for (const other of [
      answer(400, {
        type: 'invalid_request_error',
        message: 'An event already exists with identifier ovg_x_1.',
      }),
      answer(400, { type: 'invalid_request_error', code: 'duplicate_meter_event', message }),
      answer(400, {
        type: 'invalid_request_error',
        code: 'timestamp_outside_window',
        message: 'The timestamp must be within the past 35 days.',
      }),
      answer(500, { type: 'api_error', message }),
      answer(400, { type: 'invalid_request_error', message: `No such meter: ${identifier}` }),
      new Error(message),
      null,
    ]) {
      expect(isDuplicateMeterEvent(other, identifier)).toBe(false);
    }
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
