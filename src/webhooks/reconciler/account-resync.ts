import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Orm } from '../../database/database';
import { applyIfNewer, readNoLaterThan } from '../../database/newest-read';
import { BillingCustomer, PaymentMethod } from '../../entities';
import { BillingError, ErrorCode, NotFoundError } from '../../errors';
import type { Logger } from '../../logging/logger';
import type { AccountEvents } from '../../services/accounts/account-events';
import type { Clock } from '../../services/time/clock';
import type { CreditPackInvoices } from '../../services/credits/credit-pack-invoices';
import type { CustomerManager } from '../../services/accounts/customer-manager';
import type { FeatureProvisioner } from '../../services/subscriptions/feature-provisioner';
import type { InvoiceSync } from '../../services/invoices/invoice-sync';
import type { PaymentMethodSync } from '../../services/invoices/payment-method-sync';
import type { StripeClient } from '../../services/stripe/stripe-client';
import type { SubscriptionSync } from '../../services/subscriptions/subscription-sync';
import { readStripeAccount, type StripeAccountSnapshot } from './reconcile-account';

/** What one `resyncAccount()` re-applied. */
export interface ResyncSummary {
  accountId: string;
  subscriptions: number;
  invoices: number;
  paymentMethods: number;
  /** The account's effective plan afterwards. */
  planKey: string;
}

/** The services the reconciler applies what it reads from Stripe with. */
export interface ReconcilerServices {
  clock: Clock;
  events: AccountEvents;
  invoices: InvoiceSync;
  paymentMethods: PaymentMethodSync;
  provisioner: FeatureProvisioner;
  stripe: { stripe: StripeClient; customers: CustomerManager; subscriptionSync: SubscriptionSync };
  /** Credit packs: the reconciler grants a paid pack invoice whose `invoice.paid` was lost. */
  credits: { packInvoices: CreditPackInvoices };
}

/**
 * Re-applies one account from Stripe: its customer record, all its subscriptions, its recent invoices and its
 * cards (a card no longer in Stripe is removed), then recomputes its entitlements. Stripe is read first; the
 * writes are one transaction; subscribers are told after the commit.
 *
 * What was read is stamped with the time the reading started (ADR 0005), and every write applies only over
 * state read earlier than that (`newest-read.ts`): a webhook that read Stripe after this started, and committed
 * while this was still reading, keeps its newer state.
 */
export class AccountResync {
  constructor(
    private readonly orm: Orm,
    private readonly services: ReconcilerServices,
    private readonly logger: Logger,
  ) {}

  async run(accountId: string): Promise<ResyncSummary> {
    const known = await this.orm.em.fork().findOne(BillingCustomer, { accountId });
    if (!known?.stripeCustomerId) throw new NotFoundError(`The billing customer of ${accountId}`);
    const stripeCustomerId = known.stripeCustomerId;
    const observedAt = this.services.clock.now();
    const snapshot = await readStripeAccount(this.services.stripe.stripe, stripeCustomerId);
    const summary = await this.orm.em.fork().transactional(async (tx) => {
      await this.applyCustomer(tx, accountId, stripeCustomerId, snapshot, observedAt);
      const customer = await tx.findOneOrFail(BillingCustomer, { accountId });
      // Oldest first, so the newest subscription is the one written last. A scheduled change found reached took
      // effect at the renewal, however long ago: the allowances are weighed from then, not from this resync.
      const now = this.services.clock.now();
      let changedAt = now;
      for (const subscription of [...snapshot.subscriptions].reverse()) {
        const written = await this.services.stripe.subscriptionSync.applyLocked(
          tx,
          customer,
          subscription,
          observedAt,
        );
        if (written.changedAt && written.changedAt < changedAt) changedAt = written.changedAt;
      }
      for (const invoice of snapshot.invoices)
        await this.services.invoices.apply(tx, customer, invoice, observedAt);
      await this.applyCards(tx, customer, snapshot, observedAt);
      const plan = await this.services.provisioner.provision(tx, accountId, now, changedAt);
      return {
        accountId,
        subscriptions: snapshot.subscriptions.length,
        invoices: snapshot.invoices.length,
        paymentMethods: snapshot.paymentMethods.length,
        planKey: plan.key,
      };
    });
    await this.services.events.accountUpdated(accountId, 'resync');
    this.logger.info({ resync: summary }, 'resynced an account from Stripe');
    return summary;
  }

  /** The customer row, locked; refused if the account moved to another Stripe customer while we read. */
  private async applyCustomer(
    tx: EntityManager,
    accountId: string,
    stripeCustomerId: string,
    snapshot: StripeAccountSnapshot,
    observedAt: Date,
  ): Promise<void> {
    const customer = await tx.findOneOrFail(
      BillingCustomer,
      { accountId },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    if (customer.stripeCustomerId !== stripeCustomerId) {
      // Re-linked while we were reading: what we read is about another customer.
      throw new BillingError(
        ErrorCode.CONFLICT,
        'The account changed its Stripe customer during the resync; try again',
      );
    }
    const read = snapshot.customer;
    if (read.deleted) customer.deletedAt ??= observedAt;
    else
      applyIfNewer(customer, observedAt, (row) =>
        this.services.stripe.customers.applyStripeCustomer(row, read),
      );
    await tx.flush();
  }

  /** Every card read, and the removal of those Stripe no longer has (only cards last read before this resync). */
  private async applyCards(
    tx: EntityManager,
    customer: BillingCustomer,
    snapshot: StripeAccountSnapshot,
    observedAt: Date,
  ): Promise<void> {
    for (const paymentMethod of snapshot.paymentMethods) {
      await this.services.paymentMethods.apply(
        tx,
        customer,
        paymentMethod,
        snapshot.defaultPaymentMethodId,
        observedAt,
      );
    }
    if (!snapshot.paymentMethodsComplete) return;
    // A card attached since was read later than this resync: it is not in the list we read, and stays.
    await tx.nativeDelete(PaymentMethod, {
      accountId: customer.accountId,
      stripePaymentMethodId: { $nin: snapshot.paymentMethods.map((paymentMethod) => paymentMethod.id) },
      ...readNoLaterThan(observedAt),
    });
  }
}
