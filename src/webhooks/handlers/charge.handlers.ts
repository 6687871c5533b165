import type Stripe from 'stripe';
import type { WebhookHandler } from '../handler.types';
import { idOf } from '../../services/stripe/expandable';

/**
 * charge.refunded: what was refunded of the invoice the charge paid is kept on our invoice row (the invoice
 * itself stays `paid`), a credit pack's unspent credits are removed, and the account is told. A charge that paid
 * no invoice is none of our billing's.
 */
export const chargeRefunded: WebhookHandler = async (event, tools) => {
  const chargeId = (event.data.object as Stripe.Charge).id;
  const { invoice, amountRefunded } = await tools.refunds.ofCharge(chargeId);
  const subscriptionId = idOf(invoice?.parent?.subscription_details?.subscription);
  const subscription = subscriptionId
    ? await tools.stripe.call('subscriptions.retrieve', (sdk) => sdk.subscriptions.retrieve(subscriptionId))
    : null;
  // A credit pack's invoice: its unspent credits go with the money (docs/credits.md, "Buying credits"), in the
  // ledger's own transaction (idempotent: a retry removes nothing more).
  // What credit notes gave to the balance counts too (row 85).
  if (invoice)
    await tools.creditPacks.refundedInvoice(invoice, () => tools.refunds.givenBackOfInvoice(invoice));
  return async (tx, observedAt) => {
    if (!invoice) return [];
    const customer = await tools.customers.ownerOfInvoice(tx, invoice, subscription);
    await tools.invoices.apply(tx, customer, invoice, observedAt);
    await tools.invoices.applyRefunded(tx, invoice.id as string, amountRefunded);
    return { accounts: [customer.accountId], provision: [] };
  };
};

/**
 * charge.dispute.created and charge.dispute.closed: the dispute is recorded and the admins are told
 * (`Disputes`). The account's subscription is not touched.
 */
export const disputeChanged: WebhookHandler = async (event, tools) => {
  const disputeId = (event.data.object as Stripe.Dispute).id;
  const read = await tools.disputes.read(disputeId);
  return async (tx, observedAt) => ({
    accounts: [],
    provision: [],
    afterCommit: await tools.disputes.record(tx, read, observedAt),
  });
};
