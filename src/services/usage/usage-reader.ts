import type { Orm } from '../../database/database';
import { UsageCounter } from '../../entities';
import type { MetricKey } from '../plans/plan.types';
import type { AccountAllowances, MetricAllowance } from './account-allowances';
import type { CounterFigures, UsageCopies } from './usage-copies';
import { type UsagePeriod, usagePeriodAt } from './usage-period';

/** An account's usage of one metric in one usage period, as the API shows it. */
export interface UsageFigures {
  metric: string;
  used: number;
  /** null = unlimited */
  included: number | null;
  /** null = unlimited */
  remaining: number | null;
  /** Past the included amount: billed where the plan allows, else refused before it happens. */
  overage: number;
  periodStart: Date;
  periodEnd: Date;
}

/** Reads usage from the Redis copies, or from PostgreSQL (and refreshes the copies) when they are missing. */
export class UsageReader {
  constructor(
    private readonly orm: Orm,
    private readonly copies: UsageCopies,
  ) {}

  async countersOf(accountId: string, period: UsagePeriod): Promise<ReadonlyMap<string, CounterFigures>> {
    const copied = await this.copies.read(accountId, period.start);
    if (copied) return copied;
    const rows = await this.orm.em
      .fork()
      .find(
        UsageCounter,
        { accountId, periodStart: period.start },
        { disableIdentityMap: true, fields: ['metric', 'used', 'peak', 'revision', 'periodEnd'] },
      );
    const figures = new Map(rows.map((row) => [row.metric, figuresOf(row)]));
    await this.copies.write(
      rows.map((row) => ({
        accountId,
        metric: row.metric,
        periodStart: period.start,
        periodEnd: period.end,
        ...figuresOf(row),
      })),
      { accountId, periodStart: period.start, periodEnd: period.end },
    );
    return figures;
  }

  /** Every metric of the account's plan, in the current usage period. */
  async summariesOf(allowances: AccountAllowances, now: Date): Promise<UsageFigures[]> {
    const period = usagePeriodAt(allowances.billingPeriod, now);
    const counters = await this.countersOf(allowances.accountId, period);
    return [...allowances.metrics.values()].map((allowance) =>
      usageFiguresOf(allowance, counters.get(allowance.metric), period),
    );
  }

  async summaryOf(allowances: AccountAllowances, metric: MetricKey, now: Date): Promise<UsageFigures | null> {
    const allowance = allowances.metrics.get(metric);
    if (!allowance) return null;
    const period = usagePeriodAt(allowances.billingPeriod, now);
    const counters = await this.countersOf(allowances.accountId, period);
    return usageFiguresOf(allowance, counters.get(metric), period);
  }
}

function figuresOf(row: Pick<UsageCounter, 'used' | 'peak' | 'revision'>): CounterFigures {
  return { used: Number(row.used), peak: Number(row.peak), revision: Number(row.revision) };
}

/**
 * Figures from a counter and the allowance. Overage is measured on the period's peak: for a counter that is its
 * total; for a gauge, the highest level reached, even if it has fallen since. It is what the overage reporter
 * bills, so the two must agree.
 */
export function usageFiguresOf(
  allowance: Pick<MetricAllowance, 'metric' | 'included' | 'overLimit'>,
  counter: Pick<CounterFigures, 'used' | 'peak'> | undefined,
  period: UsagePeriod,
): UsageFigures {
  const used = counter?.used ?? 0;
  const peak = counter?.peak ?? 0;
  const { included } = allowance;
  return {
    metric: allowance.metric,
    used,
    included,
    remaining: included === null ? null : Math.max(0, included - used),
    // Past a hard limit nothing is billed (usage got there under a bigger plan, before a downgrade).
    overage: included === null || allowance.overLimit === 'block' ? 0 : Math.max(0, peak - included),
    periodStart: period.start,
    periodEnd: period.end,
  };
}
