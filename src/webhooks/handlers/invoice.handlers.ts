import type Stripe from 'stripe';
import { type Effect, effectResultOf, type HandlerTools, type WebhookHandler } from '../handler.types';
import { idOf } from '../../services/stripe/expandable';
import { applySubscription } from './subscription.handlers';

/**
 * invoice.paid, invoice.finalized, invoice.voided and invoice.marked_uncollectible: the invoice's status, and
 * its subscription (now active, still past due, or ended by the voided or uncollectible invoice).
 */
export const invoiceChanged: WebhookHandler = async (event, tools) => {
  const { invoice, subscription } = await refetch(event, tools);
  return applyInvoice(invoice, subscription, tools);
};

/**
 * invoice.paid: as `invoiceChanged`, and a credit pack's invoice (ours: its metadata names the pack) grants the pack's
 * credits to the invoice's account, once (the ledger's grant is idempotent on the invoice). The grant commits in the
 * ledger's own transaction, before the event's: a retry of this event finds it and grants nothing more.
 */
export const invoicePaid: WebhookHandler = async (event, tools) => {
  const { invoice, subscription } = await refetch(event, tools);
  await tools.creditPacks.grantPaidInvoice(invoice);
  return applyInvoice(invoice, subscription, tools);
};

/**
 * invoice.voided and invoice.marked_uncollectible: as `invoiceChanged`, and an automatic top-up's pack closed unpaid
 * gives its amount back to the spend limit (one marked uncollectible is voided first, so it is never paid late:
 * billing-rules row 111), outside the event's transaction as `invoicePaid`'s grant (a retry gives nothing more).
 */
export const invoiceClosedUnpaid: WebhookHandler = async (event, tools) => {
  const { invoice, subscription } = await refetch(event, tools);
  return applyInvoice(await tools.creditPacks.closedUnpaid(invoice, tools.stripe), subscription, tools);
};

/** invoice.payment_failed: stored, the subscription is refreshed (past due), and the customer is told. */
export const invoicePaymentFailed: WebhookHandler = async (event, tools) => {
  const { invoice, subscription } = await refetch(event, tools);
  const apply = applyInvoice(invoice, subscription, tools);
  return async (tx, observedAt) => {
    const result = effectResultOf(await apply(tx, observedAt));
    for (const accountId of result.accounts) await tools.notifications.paymentFailed(tx, accountId, invoice);
    return result;
  };
};

/**
 * invoice.payment_action_required: the customer's bank wants the payment confirmed (3-D Secure). The invoice is
 * stored and marked as waiting for the customer, its subscription refreshed, and the customer mailed the hosted invoice page to confirm on, once per
 * invoice (https://docs.stripe.com/billing/subscriptions/webhooks).
 */
export const invoicePaymentActionRequired: WebhookHandler = async (event, tools) => {
  const { invoice, subscription } = await refetch(event, tools);
  const apply = applyInvoice(invoice, subscription, tools);
  return async (tx, observedAt) => {
    const result = effectResultOf(await apply(tx, observedAt));
    // The open invoice is now the account's pending authentication (`pendingAction`), until paid or voided.
    await tools.invoices.markActionRequired(tx, invoice.id as string, new Date(event.created * 1000));
    for (const accountId of result.accounts)
      await tools.notifications.paymentActionRequired(tx, accountId, invoice);
    return result;
  };
};

async function refetch(
  event: Stripe.Event,
  tools: HandlerTools,
): Promise<{ invoice: Stripe.Invoice; subscription: Stripe.Subscription | null }> {
  const id = (event.data.object as Stripe.Invoice).id as string;
  const invoice = await tools.stripe.call('invoices.retrieve', (sdk) => sdk.invoices.retrieve(id));
  const subscriptionId = idOf(invoice.parent?.subscription_details?.subscription);
  const subscription = subscriptionId
    ? await tools.stripe.call('subscriptions.retrieve', (sdk) => sdk.subscriptions.retrieve(subscriptionId))
    : null;
  return { invoice, subscription };
}

function applyInvoice(
  invoice: Stripe.Invoice,
  subscription: Stripe.Subscription | null,
  tools: HandlerTools,
): Effect {
  const applyToSubscription = subscription ? applySubscription(subscription, tools) : null;
  return async (tx, observedAt) => {
    const customer = await tools.customers.ownerOfInvoice(tx, invoice, subscription);
    await tools.invoices.apply(tx, customer, invoice, observedAt);
    // An invoice alone decides no plan; its subscription (now active, or past due) may.
    const fromSubscription = applyToSubscription ? await applyToSubscription(tx, observedAt) : null;
    return {
      accounts: [customer.accountId],
      provision: fromSubscription?.provision ?? [],
      changedAt: fromSubscription?.changedAt,
    };
  };
}
