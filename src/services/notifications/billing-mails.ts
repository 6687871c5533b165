import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingCustomer, PaymentMethod, Subscription } from '../../entities';
import type { Logger } from '../../logging/logger';
import type { PlanCatalog } from '../plans/plan-catalog';
import { DUPLICATE_OF_METADATA, isAutoTopUpInvoice } from '../stripe/metadata-keys';
import type { Notifier } from './notifier';
import { idOf } from '../stripe/expandable';

/** The fields of a Stripe invoice a payment-failed mail needs (a `Stripe.Invoice` fits). */
export interface FailedInvoice {
  id: string;
  number: string | null;
  amount_remaining: number;
  currency: string;
  attempt_count: number;
  next_payment_attempt: number | null;
  hosted_invoice_url?: string | null;
  customer_email: string | null;
  metadata?: Record<string, string> | null;
  parent: { subscription_details?: { subscription: string | { id: string } } | null } | null;
}

/** The fields of a Stripe invoice a payment-to-confirm mail needs (a `Stripe.Invoice` fits). */
export interface InvoiceToConfirm {
  id: string;
  number: string | null;
  amount_remaining: number;
  currency: string;
  hosted_invoice_url?: string | null;
  customer_email: string | null;
  metadata?: Record<string, string> | null;
  parent: { subscription_details?: { subscription: string | { id: string } } | null } | null;
}

/** A duplicate subscription as `DuplicateSubscriptions` settled it. */
export interface CancelledDuplicate {
  subscription: { id: string };
  keptSubscriptionId: string;
  amountRefunded: number;
  currency: string;
  wasTrialing: boolean;
}

/** A chargeback as the admins' mails tell it (amounts in minor units). */
export interface DisputeNotice {
  disputeId: string;
  chargeId: string;
  accountId: string | null;
  invoiceId: string | null;
  amount: number;
  currency: string;
  reason: string;
  status: string;
  evidenceDueBy: Date | null;
}

/** The outbox needs an account on every mail; an admin mail about a customer of no account carries this one. */
export const NO_ACCOUNT = 'none';

/** The fields of a Stripe subscription the trial and cancellation mails need (a `Stripe.Subscription` fits). */
export interface NotifiedSubscription {
  id: string;
  currency: string;
  metadata?: Record<string, string> | null;
  trial_end: number | null;
  ended_at: number | null;
  canceled_at: number | null;
  default_payment_method: string | { id: string } | null;
  items: {
    data: Array<{
      quantity?: number;
      price: { unit_amount: number | null; recurring: { usage_type: string } | null };
    }>;
  };
}

/**
 * The mails webhooks cause, from the Stripe objects the handlers already hold: each call looks up the
 * account's email and plan name in the event's transaction and enqueues the mail there (so it has the same
 * fate as the event). Fits the webhook layer's `BillingNotifications` interface.
 */
export class BillingMails {
  constructor(
    private readonly notifier: Notifier,
    private readonly catalog: PlanCatalog,
    private readonly logger: Logger,
    /** Who is told about disputes (`BILLING_ADMIN_EMAILS`); nobody when empty (a warning is logged). */
    private readonly adminEmails: readonly string[] = [],
  ) {}

  /**
   * `invoice.payment_failed`: one mail per failed attempt of an invoice. None for an automatic top-up's invoice:
   * automatic top-up mails that failure itself (`auto_top_up_failed`, which also says it was turned off).
   */
  async paymentFailed(em: EntityManager, accountId: string, invoice: FailedInvoice): Promise<void> {
    if (isAutoTopUpInvoice(invoice.metadata)) return;
    const subscriptionId = idOf(invoice.parent?.subscription_details?.subscription);
    await this.notifier.enqueue(em, {
      accountId,
      recipient: (await this.emailOf(em, accountId)) ?? invoice.customer_email,
      kind: 'payment_failed',
      data: {
        invoiceId: invoice.id,
        invoiceNumber: invoice.number,
        amountDue: invoice.amount_remaining,
        currency: invoice.currency,
        attemptCount: Math.max(1, invoice.attempt_count),
        nextPaymentAttemptAt: fromUnix(invoice.next_payment_attempt),
        hostedInvoiceUrl: invoice.hosted_invoice_url ?? null,
        planName: subscriptionId ? await this.planNameOf(em, subscriptionId) : null,
      },
    });
  }

  /** `customer.subscription.trial_will_end`: one mail per trial end (a new trial end is a new mail). */
  async trialWillEnd(
    em: EntityManager,
    accountId: string,
    subscription: NotifiedSubscription,
  ): Promise<void> {
    const trialEndsAt = fromUnix(subscription.trial_end);
    if (!trialEndsAt) {
      this.logger.warn(
        { accountId, subscription: subscription.id },
        'trial_will_end for a subscription without a trial end: no mail',
      );
      return;
    }
    const hasPaymentMethod =
      subscription.default_payment_method !== null || (await em.count(PaymentMethod, { accountId })) > 0;
    const amountAfterTrial = licensedAmount(subscription);
    await this.notifier.enqueue(em, {
      accountId,
      recipient: await this.emailOf(em, accountId),
      kind: 'trial_will_end',
      data: {
        subscriptionId: subscription.id,
        planName: (await this.planNameOf(em, subscription.id)) ?? 'paid',
        trialEndsAt,
        hasPaymentMethod,
        amountAfterTrial,
        currency: amountAfterTrial === null ? null : subscription.currency,
      },
    });
  }

  /**
   * `customer.subscription.deleted`: one mail per subscription (the event id is not needed to dedupe). Not for a
   * duplicate we cancelled (marked `duplicate_of`): the account keeps its plan, and the duplicate mail says so.
   */
  async subscriptionCanceled(
    em: EntityManager,
    accountId: string,
    subscription: NotifiedSubscription,
    _eventId?: string,
  ): Promise<void> {
    if (subscription.metadata?.[DUPLICATE_OF_METADATA]) return;
    await this.notifier.enqueue(em, {
      accountId,
      recipient: await this.emailOf(em, accountId),
      kind: 'subscription_canceled',
      data: {
        subscriptionId: subscription.id,
        planName: (await this.planNameOf(em, subscription.id)) ?? 'paid',
        endedAt: fromUnix(subscription.ended_at) ?? fromUnix(subscription.canceled_at) ?? new Date(),
      },
    });
  }

  /**
   * `invoice.payment_action_required`: the bank wants the customer to confirm (3-D Secure); once per invoice. None
   * for an automatic top-up's invoice: its `auto_top_up_failed` mail carries the page to approve it on.
   */
  async paymentActionRequired(
    em: EntityManager,
    accountId: string,
    invoice: InvoiceToConfirm,
  ): Promise<void> {
    if (isAutoTopUpInvoice(invoice.metadata)) return;
    const subscriptionId = idOf(invoice.parent?.subscription_details?.subscription);
    await this.notifier.enqueue(em, {
      accountId,
      recipient: (await this.emailOf(em, accountId)) ?? invoice.customer_email,
      kind: 'payment_action_required',
      data: {
        invoiceId: invoice.id,
        invoiceNumber: invoice.number,
        amountDue: invoice.amount_remaining,
        currency: invoice.currency,
        hostedInvoiceUrl: invoice.hosted_invoice_url ?? null,
        planName: subscriptionId ? await this.planNameOf(em, subscriptionId) : null,
      },
    });
  }

  /** A second subscription of the account was cancelled (and refunded): once per duplicate. */
  async duplicateSubscriptionCanceled(
    em: EntityManager,
    accountId: string,
    duplicate: CancelledDuplicate,
  ): Promise<void> {
    await this.notifier.enqueue(em, {
      accountId,
      recipient: await this.emailOf(em, accountId),
      kind: 'duplicate_subscription_canceled',
      data: {
        subscriptionId: duplicate.subscription.id,
        keptSubscriptionId: duplicate.keptSubscriptionId,
        planName: (await this.planNameOf(em, duplicate.subscription.id)) ?? 'paid',
        amountRefunded: duplicate.amountRefunded,
        currency: duplicate.currency,
        wasTrialing: duplicate.wasTrialing,
      },
    });
  }

  /** `charge.dispute.created`: every admin is told, once per dispute. */
  async disputeOpened(em: EntityManager, dispute: DisputeNotice): Promise<void> {
    for (const recipient of this.adminRecipients(dispute)) {
      await this.notifier.enqueue(em, {
        accountId: dispute.accountId ?? NO_ACCOUNT,
        recipient,
        kind: 'dispute_opened',
        data: dispute,
      });
    }
  }

  /** `charge.dispute.closed`: every admin is told how it ended, once per dispute. */
  async disputeClosed(em: EntityManager, dispute: DisputeNotice): Promise<void> {
    const { invoiceId: _invoiceId, evidenceDueBy: _evidenceDueBy, ...data } = dispute;
    for (const recipient of this.adminRecipients(dispute)) {
      await this.notifier.enqueue(em, {
        accountId: dispute.accountId ?? NO_ACCOUNT,
        recipient,
        kind: 'dispute_closed',
        data,
      });
    }
  }

  private adminRecipients(dispute: DisputeNotice): readonly string[] {
    if (this.adminEmails.length === 0) {
      this.logger.warn(
        { disputeId: dispute.disputeId, accountId: dispute.accountId },
        'a dispute changed but BILLING_ADMIN_EMAILS is empty: no admin was mailed',
      );
    }
    return this.adminEmails;
  }

  private async emailOf(em: EntityManager, accountId: string): Promise<string | null> {
    return (await em.findOne(BillingCustomer, { accountId }))?.email ?? null;
  }

  /** The plan's name from our stored subscription (the handler stored it earlier in the same transaction). */
  private async planNameOf(em: EntityManager, stripeSubscriptionId: string): Promise<string | null> {
    const stored = await em.findOne(Subscription, { stripeSubscriptionId });
    if (!stored) return null;
    return this.catalog.find(stored.planKey)?.name ?? stored.planKey;
  }
}

function fromUnix(seconds: number | null): Date | null {
  return seconds === null ? null : new Date(seconds * 1000);
}

/** What the licensed (non-metered) items charge per period, or null when a price is not a flat amount. */
function licensedAmount(subscription: NotifiedSubscription): number | null {
  let total = 0;
  for (const item of subscription.items.data) {
    if (item.price.recurring?.usage_type === 'metered') continue;
    if (item.price.unit_amount === null) return null;
    total += item.price.unit_amount * (item.quantity ?? 1);
  }
  return total;
}
