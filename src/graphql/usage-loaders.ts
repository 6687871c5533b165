import DataLoader from 'dataloader';
import type { AccountAllowances } from '../services/usage/account-allowances';
import { type UsagePeriod, usagePeriodAt } from '../services/usage/usage-period';
import { type UsageFigures, usageSummariesOf } from '../services/usage/usage-reader';
import type { UsageServices } from '../services/usage/usage-services';

/** An account's allowances and its usage of every metric in the current usage period. */
export interface AccountUsage {
  allowances: AccountAllowances;
  period: UsagePeriod;
  usage: UsageFigures[];
}

/**
 * Per-request loaders for usage and feature fields: a list of accounts asking for `usage`, `entitlements` or
 * `feature` reads allowances (from the feature gate's cache) and counters (one Redis round trip, or one query)
 * for all of them at once. `usage` does both in one batch, so a single `feature(key)` check waits for one
 * dispatch, not two in a row.
 */
export class UsageLoaders {
  readonly allowances: DataLoader<string, AccountAllowances>;
  readonly usage: DataLoader<string, AccountUsage>;

  constructor(usage: UsageServices) {
    this.allowances = new DataLoader((accountIds) => usage.gate.allowancesOf(accountIds));
    this.usage = new DataLoader(async (accountIds) => {
      const now = new Date();
      const allowances = await usage.gate.allowancesOf(accountIds);
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
    });
  }
}
