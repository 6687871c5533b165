import type { EntityManager } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import { BillingCustomer, Invoice, PaymentMethod, Subscription } from '../entities';
import { LIVE_STATUSES } from '../services/subscription-sync';

export interface InvoicePageKey {
  accountId: string;
  first: number;
  /** The `stripeCreatedAt` (ms) and id of the last invoice of the previous page. */
  after: { createdAtMs: number; id: string } | null;
}

export interface InvoicePage {
  rows: Invoice[];
  hasNextPage: boolean;
}

/**
 * Per-request DataLoaders: nested fields of many accounts load in one query per kind, never one per parent.
 * Each loader is made on first use, so a request that needs none pays nothing.
 */
export class Loaders {
  private customers?: DataLoader<string, BillingCustomer | null>;
  private subscriptions?: DataLoader<string, Subscription | null>;
  private paymentMethods?: DataLoader<string, PaymentMethod[]>;
  private invoices?: DataLoader<InvoicePageKey, InvoicePage, string>;

  constructor(private readonly em: () => EntityManager) {}

  get customerByAccount(): DataLoader<string, BillingCustomer | null> {
    this.customers ??= new DataLoader(async (accountIds) => {
      const rows = await this.em().find(BillingCustomer, { accountId: { $in: [...accountIds] } });
      const byAccount = new Map(rows.map((row) => [row.accountId, row]));
      return accountIds.map((accountId) => byAccount.get(accountId) ?? null);
    });
    return this.customers;
  }

  /** The live subscription of each account (the newest, should Stripe ever hold two). */
  get subscriptionByAccount(): DataLoader<string, Subscription | null> {
    this.subscriptions ??= new DataLoader(async (accountIds) => {
      const rows = await this.em().find(
        Subscription,
        { accountId: { $in: [...accountIds] }, status: { $in: [...LIVE_STATUSES] } },
        { orderBy: { createdAt: 'asc' } },
      );
      const byAccount = new Map(rows.map((row) => [row.accountId, row]));
      return accountIds.map((accountId) => byAccount.get(accountId) ?? null);
    });
    return this.subscriptions;
  }

  get paymentMethodsByAccount(): DataLoader<string, PaymentMethod[]> {
    this.paymentMethods ??= new DataLoader(async (accountIds) => {
      const rows = await this.em().find(
        PaymentMethod,
        { accountId: { $in: [...accountIds] } },
        { orderBy: { isDefault: 'desc', createdAt: 'asc' } },
      );
      return accountIds.map((accountId) => rows.filter((row) => row.accountId === accountId));
    });
    return this.paymentMethods;
  }

  /**
   * A page of invoices per account, newest first. All accounts asking for the same page shape are answered by
   * one query (a window function numbers each account's invoices), whatever the number of accounts.
   */
  get invoicesByAccount(): DataLoader<InvoicePageKey, InvoicePage, string> {
    this.invoices ??= new DataLoader(
      async (keys) => {
        const groups = new Map<string, InvoicePageKey[]>();
        for (const key of keys) {
          const shape = `${key.first}:${key.after?.createdAtMs ?? ''}:${key.after?.id ?? ''}`;
          groups.set(shape, [...(groups.get(shape) ?? []), key]);
        }
        const pages = new Map<string, InvoicePage>();
        for (const group of groups.values()) {
          const { first, after } = group[0];
          const rows = await this.invoicePageRows(
            group.map((key) => key.accountId),
            first,
            after,
          );
          for (const key of group) {
            const mine = rows.filter((row) => row.accountId === key.accountId);
            pages.set(invoiceKey(key), { rows: mine.slice(0, first), hasNextPage: mine.length > first });
          }
        }
        return keys.map((key) => pages.get(invoiceKey(key)) ?? { rows: [], hasNextPage: false });
      },
      { cacheKeyFn: invoiceKey },
    );
    return this.invoices;
  }

  private async invoicePageRows(
    accountIds: string[],
    first: number,
    after: InvoicePageKey['after'],
  ): Promise<Invoice[]> {
    const em = this.em();
    const knex = em.getKnex();
    const numbered = knex('invoice')
      .select('*')
      .select(
        knex.raw(
          'row_number() over (partition by account_id order by stripe_created_at desc, id desc) as position',
        ),
      )
      .whereIn('account_id', accountIds);
    if (after) {
      numbered.whereRaw('(stripe_created_at, id) < (?, ?)', [new Date(after.createdAtMs), after.id]);
    }
    // Run through the EntityManager (not knex directly) so it is logged and counted like every other query.
    const rows: Array<Record<string, unknown>> = await em.execute(
      knex
        .select('*')
        .from(numbered.as('numbered'))
        .where('position', '<=', first + 1)
        .orderBy([{ column: 'account_id' }, { column: 'position' }]),
    );
    return rows.map((row) => em.map(Invoice, row));
  }
}

function invoiceKey(key: InvoicePageKey): string {
  return `${key.accountId}|${key.first}|${key.after?.createdAtMs ?? ''}|${key.after?.id ?? ''}`;
}
