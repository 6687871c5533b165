import type { Orm } from '../../database/database';
import { UsageCounter } from '../../entities';
import type { UsageFigures } from '../../pubsub/topics';
import { type AccountAllowances, type MetricAllowance, periodAllowanceOf } from './account-allowances';
import type { CounterFigures, UsageCopies } from './usage-copies';
import type { UsagePeriod } from './usage-period';

/** Published on `USAGE_UPDATED`, so the pub/sub's topics declare it; usage code reads it from here. */
export type { UsageFigures };

/** Every metric of the account's plan, in the usage period of `now`, from the period's counters. */
export function usageSummariesOf(
  allowances: AccountAllowances,
  counters: ReadonlyMap<string, Pick<CounterFigures, 'used' | 'peak'>>,
  period: UsagePeriod,
): UsageFigures[] {
  return [...allowances.metrics.values()].map((allowance) =>
    usageFiguresOf(allowance, counters.get(allowance.metric), period),
  );
}

/** Reads usage from the Redis copies, or from PostgreSQL (and refreshes the copies) when they are missing. */
export class UsageReader {
  constructor(
    private readonly orm: Orm,
    private readonly copies: UsageCopies,
  ) {}

  /**
   * The counters of several accounts' usage periods: one Redis round trip for all, and one PostgreSQL query for
   * those without a complete copy (whose copies are then refreshed).
   */
  async countersMany(
    keys: ReadonlyArray<{ accountId: string; period: UsagePeriod }>,
  ): Promise<Array<ReadonlyMap<string, CounterFigures>>> {
    const copied = await this.copies.readMany(
      keys.map(({ accountId, period }) => ({ accountId, periodStart: period.start })),
    );
    const missing = keys.filter((_, index) => !copied[index]);
    if (missing.length === 0) return copied as Array<ReadonlyMap<string, CounterFigures>>;
    const rows = await this.orm.em.fork().find(
      UsageCounter,
      { $or: missing.map(({ accountId, period }) => ({ accountId, periodStart: period.start })) },
      {
        disableIdentityMap: true,
        fields: ['accountId', 'metric', 'periodStart', 'used', 'peak', 'revision'],
      },
    );
    const loaded = new Map<string, Map<string, CounterFigures>>();
    for (const { accountId, period } of missing) loaded.set(slotOf(accountId, period.start), new Map());
    for (const row of rows)
      loaded.get(slotOf(row.accountId, row.periodStart))?.set(row.metric, figuresOf(row));
    for (const { accountId, period } of missing) {
      const figures = loaded.get(slotOf(accountId, period.start)) ?? new Map<string, CounterFigures>();
      await this.copies.write(
        [...figures].map(([metric, value]) => ({
          accountId,
          metric,
          periodStart: period.start,
          periodEnd: period.end,
          ...value,
        })),
        { accountId, periodStart: period.start, periodEnd: period.end },
      );
    }
    return keys.map(
      ({ accountId, period }, index) =>
        copied[index] ?? (loaded.get(slotOf(accountId, period.start)) as Map<string, CounterFigures>),
    );
  }
}

function slotOf(accountId: string, periodStart: Date): string {
  return `${accountId}\u0000${periodStart.getTime()}`;
}

function figuresOf(row: Pick<UsageCounter, 'used' | 'peak' | 'revision'>): CounterFigures {
  return { used: Number(row.used), peak: Number(row.peak), revision: Number(row.revision) };
}

/**
 * Figures from a counter and the allowance. `included` is the period's allowance (the counter's: a plan change
 * inside the period weighs it), the same figure hard limits are checked against and the overage reporter bills
 * by, so what a customer is shown is what is billed. Overage is measured on the period's peak: for a counter that
 * is its total; for a gauge, the highest level reached, even if it has fallen since.
 */
export function usageFiguresOf(
  allowance: MetricAllowance,
  counter: Pick<CounterFigures, 'used' | 'peak'> | undefined,
  period: UsagePeriod,
  included: number | null = periodAllowanceOf(allowance, period),
): UsageFigures {
  const used = counter?.used ?? 0;
  const peak = counter?.peak ?? 0;
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
