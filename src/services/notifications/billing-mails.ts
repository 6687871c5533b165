import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingCustomer, PaymentMethod, Subscription } from '../../entities';
import type { Logger } from '../logger';
import type { PlanCatalog } from '../plans/plan-catalog';
import type { Notifier } from './notifier';

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
  parent: { subscription_details?: { subscription: string | { id: string } } | null } | null;
}

/** The fields of a Stripe subscription the trial and cancellation mails need (a `Stripe.Subscription` fits). */
export interface NotifiedSubscription {
  id: string;
  currency: string;
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
  ) {}

  /** `invoice.payment_failed`: one mail per failed attempt of an invoice. */
  async paymentFailed(em: EntityManager, accountId: string, invoice: FailedInvoice): Promise<void> {
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

  /** `customer.subscription.deleted`: one mail per subscription (the event id is not needed to dedupe). */
  async subscriptionCanceled(
    em: EntityManager,
    accountId: string,
    subscription: NotifiedSubscription,
    _eventId?: string,
  ): Promise<void> {
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

function idOf(value: string | { id: string } | null | undefined): string | null {
  if (!value) return null;
  return typeof value === 'string' ? value : value.id;
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
