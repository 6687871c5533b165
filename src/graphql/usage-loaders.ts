import DataLoader from 'dataloader';
import type { AccountAllowances } from '../services/usage/account-allowances';
import type { CounterFigures } from '../services/usage/usage-copies';
import type { UsagePeriod } from '../services/usage/usage-period';
import type { UsageServices } from '../services/usage/usage-services';

export interface CounterSlot {
  accountId: string;
  period: UsagePeriod;
}

/**
 * Per-request loaders for usage and feature fields: a list of accounts asking for `usage`, `entitlements` or
 * `feature` reads allowances and counters for all of them at once (cached accounts cost nothing).
 */
export class UsageLoaders {
  readonly allowances: DataLoader<string, AccountAllowances>;
  readonly counters: DataLoader<CounterSlot, ReadonlyMap<string, CounterFigures>, string>;

  constructor(usage: UsageServices) {
    this.allowances = new DataLoader((accountIds) => usage.gate.allowancesOf(accountIds));
    this.counters = new DataLoader((slots) => usage.reader.countersMany(slots), {
      cacheKeyFn: (slot) => `${slot.accountId}\u0000${slot.period.start.getTime()}`,
    });
  }
}
