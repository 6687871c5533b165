import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { applyIfNewer } from '../../database/newest-read';
import { BillingCustomer } from '../../entities';
import { ACCOUNT_ID_METADATA, type CustomerManager } from './customer-manager';
import { idOf } from '../stripe/expandable';

/**
 * The event cannot be applied yet (its customer is not linked to an account yet): it is answered 500 so Stripe
 * delivers it again, and the inbox retries it.
 */
export class RetryLaterError extends Error {}

/**
 * Keeps our customer rows in step with Stripe's customers: which account a Stripe customer belongs to (the link,
 * made when a Checkout we created completes, or from our own metadata), and its contact details. Every write
 * takes the newest read (ADR 0005).
 */
export class CustomerSync {
  constructor(private readonly customers: Pick<CustomerManager, 'applyStripeCustomer'>) {}

  /**
   * Our customer row for a Stripe customer. An event can arrive before we linked the customer to an account
   * (before `checkout.session.completed`): if the object names its account (our metadata), the link is made
   * here; otherwise the event is retried later rather than dropped.
   */
  async ownerOf(
    tx: EntityManager,
    stripeCustomerId: string | null,
    accountIdHint: string | null | undefined,
  ): Promise<BillingCustomer> {
    if (!stripeCustomerId) throw new RetryLaterError('the object has no customer');
    const known = await tx.findOne(BillingCustomer, { stripeCustomerId });
    if (known) return known;
    if (!accountIdHint) {
      throw new RetryLaterError(`customer ${stripeCustomerId} is not linked to an account yet`);
    }
    return this.link(tx, accountIdHint, stripeCustomerId);
  }

  /** The owner of a subscription: its customer, or the account our metadata on it names. */
  ownerOfSubscription(tx: EntityManager, subscription: Stripe.Subscription): Promise<BillingCustomer> {
    return this.ownerOf(tx, idOf(subscription.customer), subscription.metadata?.account_id);
  }

  /** The owner of an invoice: its customer, or the account our metadata on its subscription or on it names. */
  ownerOfInvoice(
    tx: EntityManager,
    invoice: Stripe.Invoice,
    subscription: Stripe.Subscription | null,
  ): Promise<BillingCustomer> {
    const accountHint = subscription?.metadata?.account_id ?? invoice.metadata?.account_id;
    return this.ownerOf(tx, idOf(invoice.customer), accountHint);
  }

  /** Records that `stripeCustomerId` is the Stripe customer of `accountId` (idempotent). */
  async link(tx: EntityManager, accountId: string, stripeCustomerId: string): Promise<BillingCustomer> {
    const existing = await tx.findOne(BillingCustomer, { accountId });
    if (existing) {
      if (!existing.stripeCustomerId || existing.deletedAt) {
        existing.stripeCustomerId = stripeCustomerId;
        existing.deletedAt = null;
        await tx.flush();
      }
      return existing;
    }
    // Insert-or-ignore: the service may be creating the same row for this account at this very moment.
    await tx
      .createQueryBuilder(BillingCustomer)
      .insert({
        id: crypto.randomUUID(),
        accountId,
        stripeCustomerId,
        createdAt: new Date(),
        updatedAt: new Date(),
      })
      .onConflict('accountId')
      .ignore()
      .execute();
    const row = await tx.findOneOrFail(BillingCustomer, { accountId }, { refresh: true });
    if (!row.stripeCustomerId) {
      row.stripeCustomerId = stripeCustomerId;
      await tx.flush();
    }
    return row;
  }

  /**
   * Our row takes Stripe's current email, name and address; a customer naming its account in our metadata is
   * linked to it. Answers the account told, or null for a customer made outside this service (nothing of ours)
   * or a read older than what the row holds.
   */
  async applyCustomer(
    tx: EntityManager,
    customer: Stripe.Customer,
    observedAt: Date,
  ): Promise<string | null> {
    const accountId = customer.metadata?.[ACCOUNT_ID_METADATA];
    // Locked: the check and the write are one step against a concurrent updateCustomer or webhook.
    const row =
      (await tx.findOne(
        BillingCustomer,
        { stripeCustomerId: customer.id },
        { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
      )) ?? (accountId ? await this.link(tx, accountId, customer.id) : null);
    if (!row) return null;
    if (!applyIfNewer(row, observedAt, (fresh) => this.customers.applyStripeCustomer(fresh, customer)))
      return null;
    await tx.flush();
    return row.accountId;
  }

  /**
   * A customer Checkout made without our metadata: its `customer.created` came before the link and found no row
   * to update, so its contact details are taken at the link, if our row still holds this customer.
   */
  async applyAtLink(
    tx: EntityManager,
    row: BillingCustomer,
    customer: Stripe.Customer | Stripe.DeletedCustomer | null,
    observedAt: Date,
  ): Promise<void> {
    if (!customer || customer.deleted || row.stripeCustomerId !== customer.id) return;
    if (applyIfNewer(row, observedAt, (fresh) => this.customers.applyStripeCustomer(fresh, customer)))
      await tx.flush();
  }

  /** The customer is gone from Stripe: the row stays (history keeps its owner) but is marked deleted. */
  async markDeleted(tx: EntityManager, stripeCustomerId: string): Promise<string | null> {
    const row = await tx.findOne(BillingCustomer, { stripeCustomerId });
    if (!row || row.deletedAt) return null;
    row.deletedAt = new Date();
    await tx.flush();
    return row.accountId;
  }
}
