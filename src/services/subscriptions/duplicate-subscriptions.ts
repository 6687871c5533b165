import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { type BillingCustomer, DuplicateSubscription, LIVE_STATUSES } from '../../entities';
import { BillingError } from '../../errors';
import type { DuplicateSubscriptionMetrics } from '../../observability/metrics';
import type { BillingMails } from '../notifications/billing-mails';
import type { StripeClient } from '../stripe/stripe-client';
import { idOf } from '../stripe/expandable';
import { DUPLICATE_OF_METADATA } from '../stripe/metadata-keys';
import { listAll } from '../stripe/all-pages';
import { subscriptionsInStripe } from './subscriptions-in-stripe';

/** Beside `DUPLICATE_OF_METADATA`: what was refunded of the duplicate, in minor units (a later event records it without asking Stripe). */
const DUPLICATE_REFUNDED_METADATA = 'duplicate_refunded';

/** A customer's subscriptions as Stripe listed them, for one account's rule (`DuplicateSubscriptions.list`). */
export interface CustomerListing {
  accountId: string;
  customerId: string;
  subscriptions: Stripe.Subscription[];
}

/** A duplicate after it was settled in Stripe: cancelled, and refunded unless it was a trial. */
export interface SettledDuplicate {
  /** The duplicate as Stripe has it after the cancellation. */
  subscription: Stripe.Subscription;
  keptSubscriptionId: string;
  amountRefunded: number;
  currency: string;
  /** It was trialing: nothing was charged, nothing refunded. */
  wasTrialing: boolean;
}

/**
 * One paid subscription per account, always. Checkout and createSubscription refuse a second one, but a
 * duplicate can still arrive: two tabs each paying a Checkout Session, or a checkout paid while another one's
 * webhook was on its way. This finds it from a subscription's webhook and settles it:
 *
 * - which one stays: the oldest of the account's live subscriptions (an `incomplete` one, never paid, only
 *   when there is nothing else), so every event about either subscription, on any instance, picks the same one;
 * - the others are cancelled at once, after a full refund of what they charged (`reason: duplicate`) unless
 *   they were trialing (a trial charged nothing). Cancelling stops the collection of their open invoices
 *   (https://docs.stripe.com/api/subscriptions/cancel);
 * - every Stripe call carries a key derived from the duplicate's id, and a refund is only asked for what is
 *   left to refund, so a redelivered or concurrent event settles the same duplicate once;
 * - the duplicate is then recorded once (`duplicate_subscription`): counted, and the customer mailed.
 *
 * Only subscriptions this service made count (our `account_id` metadata, the same account): a customer's
 * subscription made by hand in the Dashboard is never cancelled by this rule.
 */
export class DuplicateSubscriptions {
  constructor(
    private readonly stripe: StripeClient,
    private readonly mails: BillingMails,
    private readonly metrics: DuplicateSubscriptionMetrics | null = null,
  ) {}

  /**
   * Settles in Stripe the duplicates of the account `subscription` belongs to (outside any transaction): the
   * live ones it cancels now, and those a previous attempt cancelled (marked with `duplicate_of`) so that
   * they are recorded even if that attempt died before its commit. Empty in the usual case: one subscription.
   */
  async settle(
    subscription: Stripe.Subscription,
    listing?: CustomerListing | null,
  ): Promise<SettledDuplicate[]> {
    const accountId = subscription.metadata?.account_id;
    const customerId = idOf(subscription.customer);
    if (!accountId || !customerId) return [];
    const read =
      listing?.accountId === accountId && listing.customerId === customerId
        ? listing
        : await this.list(subscription);
    // The subscription as the caller has it now (it may have changed it since the listing: a trial ended).
    const listed = (read?.subscriptions ?? []).map((candidate) =>
      candidate.id === subscription.id ? subscription : candidate,
    );
    const ours = listed.filter((candidate) => candidate.metadata?.account_id === accountId);
    const live = ours.filter(
      (candidate) => isLive(candidate) && !candidate.metadata?.[DUPLICATE_OF_METADATA],
    );
    const kept = keeperOf(live);
    const settled: SettledDuplicate[] = [];
    for (const duplicate of live.filter((candidate) => candidate.id !== kept?.id)) {
      settled.push(await this.cancel(duplicate, (kept as Stripe.Subscription).id));
    }
    // Marked by an earlier attempt: cancelled then (recorded again here in case that attempt died before its
    // commit; recording is idempotent), or still live if it died before cancelling.
    for (const marked of ours.filter((candidate) => candidate.metadata?.[DUPLICATE_OF_METADATA])) {
      const keptId = marked.metadata[DUPLICATE_OF_METADATA] as string;
      settled.push(isLive(marked) ? await this.cancel(marked, keptId) : settledFromMarks(marked, keptId));
    }
    return settled;
  }

  /**
   * The customer's subscriptions as Stripe lists them now (`settle` looks at no others), for the account our
   * metadata on `subscription` names: what a subscription's webhook reads once, both as its refetch (ADR 0005:
   * the listed subscription is as fresh as a retrieve) and as `settle`'s listing. Null when the subscription
   * names no account or no customer (the rule does not apply).
   */
  async list(
    subscription: Pick<Stripe.Subscription, 'metadata' | 'customer'>,
  ): Promise<CustomerListing | null> {
    const accountId = subscription.metadata?.account_id;
    const customerId = idOf(subscription.customer);
    if (!accountId || !customerId) return null;
    const { all } = await subscriptionsInStripe(this.stripe, customerId);
    return { accountId, customerId, subscriptions: all };
  }

  /**
   * Records a settled duplicate in the event's transaction: the first time, it is counted (after the commit,
   * through the returned callback) and the customer is mailed; after that, nothing. Returns what to run after
   * the commit.
   */
  async record(
    em: EntityManager,
    customer: BillingCustomer,
    settled: SettledDuplicate,
  ): Promise<Array<() => void>> {
    const now = new Date();
    const inserted = await em
      .createQueryBuilder(DuplicateSubscription)
      .insert({
        id: crypto.randomUUID(),
        createdAt: now,
        updatedAt: now,
        stripeSubscriptionId: settled.subscription.id,
        keptSubscriptionId: settled.keptSubscriptionId,
        accountId: customer.accountId,
        amountRefunded: settled.amountRefunded,
        currency: settled.currency,
      })
      .onConflict('stripeSubscriptionId')
      .ignore()
      .execute('run');
    if (inserted.affectedRows === 0) return [];
    await this.mails.duplicateSubscriptionCanceled(em, customer.accountId, settled);
    const refunded = settled.amountRefunded > 0;
    return [() => this.metrics?.duplicateCancelled(refunded)];
  }

  /**
   * Refunds (unless a trial), marks and cancels one duplicate; every step keyed by the duplicate's id. The
   * refund comes first: once cancelled, a duplicate is no longer live, and a retry would not find it to refund.
   */
  private async cancel(duplicate: Stripe.Subscription, keptId: string): Promise<SettledDuplicate> {
    const wasTrialing = duplicate.status === 'trialing';
    const amountRefunded = wasTrialing ? 0 : await this.refund(duplicate);
    // Marked before the cancellation: its `customer.subscription.deleted` must not send the ordinary
    // cancellation mail ("your account continues on the free plan"), and a later event must find it.
    if (!duplicate.metadata?.[DUPLICATE_OF_METADATA]) {
      const marks = {
        [DUPLICATE_OF_METADATA]: keptId,
        [DUPLICATE_REFUNDED_METADATA]: String(amountRefunded),
      };
      await this.stripe.call(
        'subscriptions.update',
        (sdk, options) => sdk.subscriptions.update(duplicate.id, { metadata: marks }, options),
        { name: `duplicate-subscription.mark:${duplicate.id}`, params: marks },
      );
    }
    const cancelled = await this.cancelOnce(duplicate.id);
    return {
      subscription: cancelled,
      keptSubscriptionId: keptId,
      amountRefunded,
      currency: duplicate.currency,
      wasTrialing,
    };
  }

  /**
   * Cancels the subscription now, or answers it as it is when another event got there first: a cancellation is a
   * DELETE, which Stripe does not replay by idempotency key (https://docs.stripe.com/api/idempotent_requests:
   * keys are for POST), and cancelling a cancelled subscription is refused (`resource_missing`).
   */
  private async cancelOnce(subscriptionId: string): Promise<Stripe.Subscription> {
    try {
      return await this.stripe.call(
        'subscriptions.cancel',
        (sdk, options) => sdk.subscriptions.cancel(subscriptionId, {}, options),
        { name: `duplicate-subscription.cancel:${subscriptionId}` },
      );
    } catch (error) {
      if (!(error instanceof BillingError)) throw error;
      const now = await this.stripe.call('subscriptions.retrieve', (sdk) =>
        sdk.subscriptions.retrieve(subscriptionId),
      );
      if (now.status !== 'canceled') throw error;
      return now;
    }
  }

  /** Refunds what is left of every payment of the duplicate's paid invoices; answers the total refunded. */
  private async refund(duplicate: Stripe.Subscription): Promise<number> {
    let amountRefunded = 0;
    for (const charge of await this.chargesOf(duplicate)) {
      let refundedHere = charge.amount_refunded;
      // Only what is left: after the key's 24 hours a second full refund would be refused
      // (`charge_already_refunded`), and within them it would replay the first one.
      if (charge.amount_refunded < charge.amount) {
        const paymentIntent = idOf(charge.payment_intent);
        const refund = await this.stripe.call(
          'refunds.create',
          (sdk, options) =>
            sdk.refunds.create(
              {
                ...(paymentIntent ? { payment_intent: paymentIntent } : { charge: charge.id }),
                reason: 'duplicate',
                metadata: { subscription: duplicate.id },
              },
              options,
            ),
          { name: `duplicate-subscription.refund:${duplicate.id}:${charge.id}` },
        );
        refundedHere += refund.amount;
      }
      amountRefunded += refundedHere;
    }
    return amountRefunded;
  }

  /**
   * The successful charges that paid the subscription's invoices. In this API version an invoice names its
   * payments (`invoice_payments`, each with its payment intent), not a charge
   * (https://docs.stripe.com/api/invoice-payment/list); the charge is the payment intent's.
   */
  private async chargesOf(subscription: Stripe.Subscription): Promise<Stripe.Charge[]> {
    const invoices = await listAll((startingAfter) =>
      this.stripe.call('invoices.list', (sdk) =>
        sdk.invoices.list({ subscription: subscription.id, limit: 100, starting_after: startingAfter }),
      ),
    );
    const charges: Stripe.Charge[] = [];
    for (const invoice of invoices.items.filter((candidate) => candidate.amount_paid > 0)) {
      const payments = await this.stripe.call('invoicePayments.list', (sdk) =>
        sdk.invoicePayments.list({ invoice: invoice.id as string, status: 'paid', limit: 100 }),
      );
      for (const payment of payments.data.filter((candidate) => candidate.status === 'paid')) {
        const paymentIntent = idOf(payment.payment.payment_intent);
        if (!paymentIntent) continue;
        const paid = await this.stripe.call('charges.list', (sdk) =>
          sdk.charges.list({ payment_intent: paymentIntent, limit: 100 }),
        );
        charges.push(...paid.data.filter((charge) => charge.status === 'succeeded'));
      }
    }
    return charges;
  }
}

/** A duplicate an earlier attempt cancelled, from the marks it left on it (no Stripe call). */
function settledFromMarks(cancelled: Stripe.Subscription, keptId: string): SettledDuplicate {
  const amountRefunded = Number(cancelled.metadata?.[DUPLICATE_REFUNDED_METADATA] ?? 0);
  return {
    subscription: cancelled,
    keptSubscriptionId: keptId,
    amountRefunded: Number.isSafeInteger(amountRefunded) ? amountRefunded : 0,
    currency: cancelled.currency,
    wasTrialing: amountRefunded === 0 && cancelled.trial_end !== null,
  };
}

function isLive(subscription: Stripe.Subscription): boolean {
  return (LIVE_STATUSES as readonly string[]).includes(subscription.status);
}

/**
 * The subscription an account keeps: the oldest that is not `incomplete` (never paid), else the oldest. `live`
 * is in Stripe's list order, newest first (https://docs.stripe.com/api/pagination), which decides between two
 * created in the same second.
 */
function keeperOf(live: Stripe.Subscription[]): Stripe.Subscription | null {
  const oldestFirst = [...live].reverse().sort((a, b) => a.created - b.created);
  return oldestFirst.find((subscription) => subscription.status !== 'incomplete') ?? oldestFirst[0] ?? null;
}
