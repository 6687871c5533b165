import type { EntityManager } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import { BillingCustomer } from '../entities';

/**
 * Per-request DataLoaders: nested fields of many accounts load in one query per kind, never one per parent.
 * Each loader is made on first use, so a request that needs none pays nothing.
 */
export class Loaders {
  private customerByAccountLoader?: DataLoader<string, BillingCustomer | null>;

  constructor(private readonly em: () => EntityManager) {}

  get customerByAccount(): DataLoader<string, BillingCustomer | null> {
    this.customerByAccountLoader ??= new DataLoader(async (accountIds) => {
      const rows = await this.em().find(BillingCustomer, { accountId: { $in: [...accountIds] } });
      const byAccount = new Map(rows.map((row) => [row.accountId, row]));
      return accountIds.map((accountId) => byAccount.get(accountId) ?? null);
    });
    return this.customerByAccountLoader;
  }
}
