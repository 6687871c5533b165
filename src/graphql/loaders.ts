import type { EntityManager } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import type { BillingCustomer, PaymentMethod, Subscription } from '../entities';
import type { AccountReads, InvoicePage, InvoicePageRequest } from '../services/accounts/account-reads';

/**
 * Per-request DataLoaders over `AccountReads`: nested fields of many accounts are answered by one batch per
 * kind, never one query per parent. Each loader is made on first use, so a request that needs none pays nothing.
 */
export class Loaders {
  private customers?: DataLoader<string, BillingCustomer | null>;
  private subscriptions?: DataLoader<string, Subscription | null>;
  private paymentMethods?: DataLoader<string, PaymentMethod[]>;
  private invoices?: DataLoader<InvoicePageRequest, InvoicePage, string>;

  constructor(
    private readonly reads: AccountReads,
    private readonly em: () => EntityManager,
  ) {}

  get customerByAccount(): DataLoader<string, BillingCustomer | null> {
    this.customers ??= new DataLoader((accountIds) => this.reads.customersOf(this.em(), accountIds));
    return this.customers;
  }

  /** The live subscription of each account. */
  get subscriptionByAccount(): DataLoader<string, Subscription | null> {
    this.subscriptions ??= new DataLoader((accountIds) =>
      this.reads.liveSubscriptionsOf(this.em(), accountIds),
    );
    return this.subscriptions;
  }

  get paymentMethodsByAccount(): DataLoader<string, PaymentMethod[]> {
    this.paymentMethods ??= new DataLoader((accountIds) =>
      this.reads.paymentMethodsOf(this.em(), accountIds),
    );
    return this.paymentMethods;
  }

  /** A page of invoices per account: the accounts asking for the same page shape share one query. */
  get invoicesByAccount(): DataLoader<InvoicePageRequest, InvoicePage, string> {
    this.invoices ??= new DataLoader((requests) => this.invoicePages(requests), { cacheKeyFn: requestKey });
    return this.invoices;
  }

  private async invoicePages(requests: readonly InvoicePageRequest[]): Promise<InvoicePage[]> {
    const byShape = new Map<string, InvoicePageRequest[]>();
    for (const request of requests) {
      const shape = `${request.first}:${request.after?.createdAtMs ?? ''}:${request.after?.id ?? ''}`;
      byShape.set(shape, [...(byShape.get(shape) ?? []), request]);
    }
    const pages = new Map<string, InvoicePage>();
    for (const group of byShape.values()) {
      const { first, after } = group[0] as InvoicePageRequest;
      const answers = await this.reads.invoicePages(
        this.em(),
        group.map((request) => request.accountId),
        first,
        after,
      );
      for (const [index, request] of group.entries()) {
        pages.set(requestKey(request), answers[index] as InvoicePage);
      }
    }
    return requests.map((request) => pages.get(requestKey(request)) ?? { rows: [], hasNextPage: false });
  }
}

function requestKey(request: InvoicePageRequest): string {
  return `${request.accountId}|${request.first}|${request.after?.createdAtMs ?? ''}|${request.after?.id ?? ''}`;
}
