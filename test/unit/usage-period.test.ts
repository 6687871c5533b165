import { addMonths, usagePeriodAt } from '../../src/services/usage/usage-period';

const d = (iso: string) => new Date(iso);

describe('usage periods', () => {
  it('is the calendar month in UTC without a subscription', () => {
    expect(usagePeriodAt(null, d('2026-02-14T23:59:59Z'))).toEqual({
      start: d('2026-02-01T00:00:00Z'),
      end: d('2026-03-01T00:00:00Z'),
    });
  });

  it("is the subscription's billing period for a monthly plan or a trial", () => {
    const monthly = {
      currentPeriodStart: d('2026-01-10T08:00:00Z'),
      currentPeriodEnd: d('2026-02-10T08:00:00Z'),
    };
    expect(usagePeriodAt(monthly, d('2026-01-31T00:00:00Z'))).toEqual({
      start: monthly.currentPeriodStart,
      end: monthly.currentPeriodEnd,
    });
    const trial = {
      currentPeriodStart: d('2026-01-10T08:00:00Z'),
      currentPeriodEnd: d('2026-01-24T08:00:00Z'),
    };
    expect(usagePeriodAt(trial, d('2026-01-11T00:00:00Z'))).toEqual({
      start: trial.currentPeriodStart,
      end: trial.currentPeriodEnd,
    });
  });

  it('cuts a yearly period into monthly slices from its start', () => {
    const yearly = {
      currentPeriodStart: d('2026-01-31T12:00:00Z'),
      currentPeriodEnd: d('2027-01-31T12:00:00Z'),
    };
    expect(usagePeriodAt(yearly, d('2026-03-15T00:00:00Z'))).toEqual({
      start: d('2026-02-28T12:00:00Z'),
      end: d('2026-03-31T12:00:00Z'),
    });
    expect(usagePeriodAt(yearly, d('2026-01-31T12:00:00Z'))).toEqual({
      start: d('2026-01-31T12:00:00Z'),
      end: d('2026-02-28T12:00:00Z'),
    });
  });

  it('predicts the next monthly period when the renewal has not been synced yet', () => {
    const monthly = {
      currentPeriodStart: d('2026-01-10T08:00:00Z'),
      currentPeriodEnd: d('2026-02-10T08:00:00Z'),
    };
    expect(usagePeriodAt(monthly, d('2026-02-10T08:00:01Z'))).toEqual({
      start: d('2026-02-10T08:00:00Z'),
      end: d('2026-03-10T08:00:00Z'),
    });
  });

  it('uses the period before for a late use dated before the period started', () => {
    const monthly = {
      currentPeriodStart: d('2026-03-10T08:00:00Z'),
      currentPeriodEnd: d('2026-04-10T08:00:00Z'),
    };
    expect(usagePeriodAt(monthly, d('2026-03-10T07:59:00Z'))).toEqual({
      start: d('2026-02-10T08:00:00Z'),
      end: d('2026-03-10T08:00:00Z'),
    });
  });

  it('adds months keeping the anchor day, or the last day of a shorter month', () => {
    expect(addMonths(d('2026-01-31T00:00:00Z'), 1)).toEqual(d('2026-02-28T00:00:00Z'));
    expect(addMonths(d('2028-01-31T00:00:00Z'), 1)).toEqual(d('2028-02-29T00:00:00Z'));
    expect(addMonths(d('2026-01-31T00:00:00Z'), 2)).toEqual(d('2026-03-31T00:00:00Z'));
    expect(addMonths(d('2026-03-31T00:00:00Z'), -1)).toEqual(d('2026-02-28T00:00:00Z'));
    expect(addMonths(d('2026-11-15T00:00:00Z'), 3)).toEqual(d('2027-02-15T00:00:00Z'));
  });
});
