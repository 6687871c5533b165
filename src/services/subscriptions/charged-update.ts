import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { Subscription } from '../../entities';
import { BillingError, ErrorCode } from '../../errors';
import type { InvoiceSync } from '../invoices/invoice-sync';
import type { StripeClient } from '../stripe/stripe-client';
import type { Clock } from '../time/clock';
import type { SubscriptionStore } from './subscription-store';

/** What a charged update needs (the composition root's services, handed over by `PlanChanges`). */
export interface ChargeDeps {
  stripe: StripeClient;
  store: SubscriptionStore;
  invoices: InvoiceSync;
  clock: Clock;
}

/**
 * A subscription update whose prorated charge is made now (an upgrade, an add-on bought): a declined charge fails
 * it, and one the bank asks to approve makes it a pending update (`changeWhenApproved`, ADR 0022).
 */
export async function updateChargedNow(
  deps: ChargeDeps,
  em: EntityManager,
  current: Subscription,
  params: Stripe.SubscriptionUpdateParams,
  name: string,
): Promise<Subscription> {
  try {
    const subscription = await deps.stripe.call(
      'subscriptions.update',
      (sdk, options) => sdk.subscriptions.update(current.stripeSubscriptionId, params, options),
      { name, params },
    );
    return await deps.store.storeWrittenFor(em, current, subscription);
  } catch (error) {
    if (!(error instanceof BillingError) || error.extensions.code !== ErrorCode.AUTHENTICATION_REQUIRED)
      throw error;
  }
  return changeWhenApproved(deps, em, current, params, name);
}

/**
 * The bank asks the customer to approve the prorated charge (3-D Secure; Stripe answered the change above with
 * 402 and changed nothing): the change is made again as a Stripe pending update (`pending_if_incomplete`,
 * https://docs.stripe.com/billing/subscriptions/pending-updates). Stripe charges its invoice and, since the bank
 * asks, keeps the subscription on its plan with the change in `pending_update` until the invoice is paid (then
 * applies it: `customer.subscription.updated`) or for 23 hours at most (then voids the invoice and drops it). The
 * open invoice is the subscription's `pendingAction` from this answer on; nothing is provisioned before.
 */
async function changeWhenApproved(
  deps: ChargeDeps,
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
  const subscription = await deps.stripe.call(
    'subscriptions.update',
    (sdk, options) => sdk.subscriptions.update(current.stripeSubscriptionId, pending, options),
    { name: `${name}:pending`, params: pending },
  );
  const stored = await deps.store.storeWrittenFor(em, current, subscription);
  const invoice = subscription.latest_invoice;
  if (subscription.pending_update && invoice && typeof invoice !== 'string') {
    const customer = await deps.store.customerOf(em, current);
    const now = deps.clock.now();
    await deps.invoices.apply(em, customer, invoice, now);
    await deps.invoices.markActionRequired(em, invoice.id as string, now);
  }
  return stored;
}
