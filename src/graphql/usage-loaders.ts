import DataLoader from 'dataloader';
import type { AccountAllowances } from '../services/usage/account-allowances';
import { type UsagePeriod, usagePeriodAt } from '../services/usage/usage-period';
import { type UsageFigures, usageSummariesOf } from '../services/usage/usage-reader';
import type { UsageServices } from '../services/usage/usage-services';

/** What the usage loaders read with: the feature gate's allowances, the counters, and billing's clock. */
export type UsageReading = Pick<UsageServices, 'gate' | 'reader' | 'clock'>;

/** An account's allowances and its usage of every metric in the current usage period. */
export interface AccountUsage {
  allowances: AccountAllowances;
  period: UsagePeriod;
  usage: UsageFigures[];
}

/**
 * Per-request loaders for usage and feature fields: a list of accounts asking for `usage`, `entitlements` or
 * `feature` reads allowances and counters for all of them at once (one Redis round trip, or one query, for the
 * counters). Two kinds:
 * - `feature(key)`, the hot path, reads allowances from the feature gate's cache (no database round trip);
 * - `entitlements` and `usage` read them from the database, so they always agree with `plan` and `subscription`
 *   in the same response (the cache learns of a change just after its commit, when it is announced).
 * Allowances and counters come in one batch, so a field waits for one dispatch, not two in a row.
 */
export class UsageLoaders {
  readonly cachedAllowances: DataLoader<string, AccountAllowances>;
  readonly cachedUsage: DataLoader<string, AccountUsage>;
  readonly usage: DataLoader<string, AccountUsage>;

  constructor(usage: UsageReading) {
    const { gate } = usage;
    this.cachedAllowances = new DataLoader((accountIds) => gate.allowancesOf(accountIds));
    this.cachedUsage = new DataLoader((accountIds) =>
      usageOf(usage, accountIds, gate.allowancesOf(accountIds)),
    );
    this.usage = new DataLoader((accountIds) =>
      usageOf(usage, accountIds, gate.freshAllowancesOf(accountIds)),
    );
  }
}

async function usageOf(
  usage: UsageReading,
  accountIds: readonly string[],
  reading: Promise<AccountAllowances[]>,
): Promise<AccountUsage[]> {
  const now = usage.clock.now();
  const allowances = await reading;
  const periods = allowances.map((account) => usagePeriodAt(account.billingPeriod, now));
  const counters = await usage.reader.countersMany(
    accountIds.map((accountId, index) => ({ accountId, period: periods[index] as UsagePeriod })),
  );
  return allowances.map((account, index) => {
    const period = periods[index] as UsagePeriod;
    return {
      allowances: account,
      period,
      usage: usageSummariesOf(account, counters[index] as ReadonlyMap<string, never>, period),
    };
  });
}
