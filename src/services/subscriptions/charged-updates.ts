import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { Subscription } from '../../entities';
import { BillingError, ErrorCode } from '../../errors';
import type { InvoiceSync } from '../invoices/invoice-sync';
import type { StripeClient } from '../stripe/stripe-client';
import type { Clock } from '../time/clock';
import type { SubscriptionStore } from './subscription-store';

/**
 * A subscription update made now whose prorated charge is invoiced at once (an upgrade, seats added: ADR 0022),
 * stored with what Stripe answered. A declined charge fails the update instead of leaving the account half
 * changed; a charge the bank asks the customer to approve makes it a Stripe pending update instead.
 */
export class ChargedUpdates {
  constructor(
    private readonly stripe: StripeClient,
    private readonly store: SubscriptionStore,
    private readonly clock: Clock,
    private readonly invoices: InvoiceSync,
  ) {}

  /** `params` with `payment_behavior` chosen here; `name` is the idempotency key's operation (versioned). */
  async update(
    em: EntityManager,
    current: Subscription,
    params: Stripe.SubscriptionUpdateParams,
    name: string,
  ): Promise<Subscription> {
    const charged: Stripe.SubscriptionUpdateParams = {
      ...params,
      payment_behavior:
        params.proration_behavior === 'always_invoice' ? 'error_if_incomplete' : 'allow_incomplete',
    };
    try {
      const subscription = await this.stripe.call(
        'subscriptions.update',
        (sdk, options) => sdk.subscriptions.update(current.stripeSubscriptionId, charged, options),
        { name, params: charged },
      );
      return await this.store.storeWrittenFor(em, current, subscription);
    } catch (error) {
      if (!(error instanceof BillingError) || error.extensions.code !== ErrorCode.AUTHENTICATION_REQUIRED)
        throw error;
    }
    return this.updateWhenApproved(em, current, charged, name);
  }

  /**
   * The bank asks the customer to approve the prorated charge (3-D Secure; Stripe answered the change above with
   * 402 and changed nothing): the change is made again as a Stripe pending update (`pending_if_incomplete`,
   * https://docs.stripe.com/billing/subscriptions/pending-updates). Stripe charges its invoice and, since the bank
   * asks, keeps the subscription as it was with the change in `pending_update` until the invoice is paid (then
   * applies it: `customer.subscription.updated`) or for 23 hours at most (then voids the invoice and drops it). The
   * open invoice is the subscription's `pendingAction` from this answer on; nothing is provisioned before.
   */
  private async updateWhenApproved(
    em: EntityManager,
    current: Subscription,
    params: Stripe.SubscriptionUpdateParams,
    name: string,
  ): Promise<Subscription> {
    // Only the parameters a pending update takes (the metadata too, since 2026-05-27.dahlia: it is merged into
    // the subscription's when the change applies; until then the plan is read from the price, `planKeyOf`).
    // Nor automatic_tax (https://docs.stripe.com/billing/subscriptions/pending-updates-reference): a subscription
    // made before tax was on stays untaxed until a change that is not held.
    const { automatic_tax: _notHeld, ...held } = params;
    const pending: Stripe.SubscriptionUpdateParams = {
      ...held,
      payment_behavior: 'pending_if_incomplete',
      expand: ['latest_invoice'],
    };
    const subscription = await this.stripe.call(
      'subscriptions.update',
      (sdk, options) => sdk.subscriptions.update(current.stripeSubscriptionId, pending, options),
      { name: `${name}:pending`, params: pending },
    );
    const stored = await this.store.storeWrittenFor(em, current, subscription);
    const invoice = subscription.latest_invoice;
    if (subscription.pending_update && invoice && typeof invoice !== 'string') {
      const customer = await this.store.customerOf(em, current);
      const now = this.clock.now();
      await this.invoices.apply(em, customer, invoice, now);
      await this.invoices.markActionRequired(em, invoice.id as string, now);
    }
    return stored;
  }
}
