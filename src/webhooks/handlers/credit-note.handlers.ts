import type Stripe from 'stripe';
import type { WebhookHandler } from '../handler.types';
import { idOf } from '../../services/stripe/expandable';

/**
 * credit_note.created and credit_note.voided: a credit note, ours (`refundInvoice`) or made (or voided) in the
 * Dashboard, changes what its invoice says: a note on an open invoice lowers what is due (voided, it is due again), a
 * note after payment gives money back to the card or the balance. The invoice and what was refunded of its payments are
 * read from Stripe now and applied; the account is told (`accountUpdated`), so a billing page showing the invoice
 * reads it again with its credit notes (`viewer.invoice(id).creditNotes`, always read from Stripe).
 */
export const creditNoteChanged: WebhookHandler = async (event, tools) => {
  const noteId = (event.data.object as Stripe.CreditNote).id;
  const note = await tools.stripe.call('creditNotes.retrieve', (sdk) => sdk.creditNotes.retrieve(noteId));
  const invoiceId = idOf(note.invoice);
  if (!invoiceId) return async () => [];
  const invoice = await tools.stripe.call('invoices.retrieve', (sdk) => sdk.invoices.retrieve(invoiceId));
  const amountRefunded = await tools.refunds.refundedOfInvoice(invoiceId);
  // A credit pack's invoice: money given back to the balance takes the pack's unspent credits as a refund to the
  // card does (docs/billing-rules.md row 85), in the ledger's own transaction (a replay removes nothing more).
  await tools.creditPacks.refundedInvoice(invoice, () => tools.refunds.givenBackOfInvoice(invoice));
  const subscriptionId = idOf(invoice.parent?.subscription_details?.subscription);
  const subscription = subscriptionId
    ? await tools.stripe.call('subscriptions.retrieve', (sdk) => sdk.subscriptions.retrieve(subscriptionId))
    : null;
  return async (tx, observedAt) => {
    const customer = await tools.customers.ownerOfInvoice(tx, invoice, subscription);
    await tools.invoices.apply(tx, customer, invoice, observedAt);
    await tools.invoices.applyRefunded(tx, invoiceId, amountRefunded);
    return { accounts: [customer.accountId], provision: [] };
  };
};
