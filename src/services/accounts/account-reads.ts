import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingCustomer, Invoice, LIVE_STATUSES, PaymentMethod, Subscription } from '../../entities';

/** Where a page of invoices starts: after the invoice with this Stripe creation time (ms) and id. */
export interface InvoicePageStart {
  createdAtMs: number;
  id: string;
}

export interface InvoicePageRequest {
  accountId: string;
  first: number;
  after: InvoicePageStart | null;
}

export interface InvoicePage {
  rows: Invoice[];
  hasNextPage: boolean;
}

export interface AccountIdPage {
  accountIds: string[];
  hasNextPage: boolean;
}

/**
 * What the API reads of many accounts at once: each method answers a whole batch in one query (the request's
 * DataLoaders call them), in the order of the ids asked for, so nested fields never cost a query per parent.
 */
export class AccountReads {
  async customersOf(
    em: EntityManager,
    accountIds: readonly string[],
  ): Promise<Array<BillingCustomer | null>> {
    const rows = await em.find(BillingCustomer, { accountId: { $in: [...accountIds] } });
    const byAccount = new Map(rows.map((row) => [row.accountId, row]));
    return accountIds.map((accountId) => byAccount.get(accountId) ?? null);
  }

  /** The live subscription of each account (the newest, should Stripe ever hold two). */
  async liveSubscriptionsOf(
    em: EntityManager,
    accountIds: readonly string[],
  ): Promise<Array<Subscription | null>> {
    const rows = await em.find(
      Subscription,
      { accountId: { $in: [...accountIds] }, status: { $in: [...LIVE_STATUSES] } },
      { orderBy: { createdAt: 'asc' } },
    );
    const byAccount = new Map(rows.map((row) => [row.accountId, row]));
    return accountIds.map((accountId) => byAccount.get(accountId) ?? null);
  }

  /** Each account's cards, the default first. */
  async paymentMethodsOf(em: EntityManager, accountIds: readonly string[]): Promise<PaymentMethod[][]> {
    const rows = await em.find(
      PaymentMethod,
      { accountId: { $in: [...accountIds] } },
      { orderBy: { isDefault: 'desc', createdAt: 'asc' } },
    );
    return accountIds.map((accountId) => rows.filter((row) => row.accountId === accountId));
  }

  /**
   * The same page of invoices (newest first) for several accounts in one query: a window function numbers each
   * account's invoices, so the cost does not grow with the number of accounts.
   */
  async invoicePages(
    em: EntityManager,
    accountIds: readonly string[],
    first: number,
    after: InvoicePageStart | null,
  ): Promise<InvoicePage[]> {
    const knex = em.getKnex();
    const numbered = knex('invoice')
      .select('*')
      .select(
        knex.raw(
          'row_number() over (partition by account_id order by stripe_created_at desc, id desc) as position',
        ),
      )
      .whereIn('account_id', [...accountIds]);
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
    const invoices = rows.map((row) => em.map(Invoice, row));
    return accountIds.map((accountId) => {
      const mine = invoices.filter((invoice) => invoice.accountId === accountId);
      return { rows: mine.slice(0, first), hasNextPage: mine.length > first };
    });
  }

  /** Accounts that have a billing customer, by account id, after `afterAccountId`. */
  async accountsWithCustomer(
    em: EntityManager,
    first: number,
    afterAccountId: string | null,
  ): Promise<AccountIdPage> {
    const rows = await em.find(
      BillingCustomer,
      afterAccountId ? { accountId: { $gt: afterAccountId } } : {},
      { orderBy: { accountId: 'asc' }, limit: first + 1, fields: ['accountId'] },
    );
    return { accountIds: rows.slice(0, first).map((row) => row.accountId), hasNextPage: rows.length > first };
  }
}
