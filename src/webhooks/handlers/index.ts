import type { WebhookHandler } from '../handler.types';
import { chargeRefunded, disputeChanged } from './charge.handlers';
import { checkoutCompleted } from './checkout.handlers';
import { customerChanged, customerDeleted } from './customer.handlers';
import {
  invoiceChanged,
  invoiceClosedUnpaid,
  invoicePaid,
  invoicePaymentActionRequired,
  invoicePaymentFailed,
} from './invoice.handlers';
import { creditNoteChanged } from './credit-note.handlers';
import { paymentMethodChanged, setupIntentSucceeded } from './payment-method.handlers';
import { subscriptionChanged, subscriptionDeleted, trialWillEnd } from './subscription.handlers';

/**
 * The one map from Stripe event type to its handler. A type not listed is stored, logged and answered 200.
 * These are also the types the webhook endpoint subscribes to. The reconciler lists `RECONCILED_EVENT_TYPES`;
 * Stripe's `types[]` holds 20, so it lists them in twenties, in this order, each listing on its own cursor
 * (`eventTypePasses`): a new type goes at the END, so that no type moves to a listing whose cursor never walked it.
 */
export const HANDLERS: Readonly<Record<string, WebhookHandler>> = {
  'customer.created': customerChanged,
  'customer.updated': customerChanged,
  'customer.deleted': customerDeleted,
  'customer.subscription.created': subscriptionChanged,
  'customer.subscription.updated': subscriptionChanged,
  'customer.subscription.deleted': subscriptionDeleted,
  'customer.subscription.trial_will_end': trialWillEnd,
  // A plan change that waited for its invoice (ADR 0022): applied once paid, or dropped unpaid.
  'customer.subscription.pending_update_applied': subscriptionChanged,
  'customer.subscription.pending_update_expired': subscriptionChanged,
  'invoice.paid': invoicePaid,
  'invoice.finalized': invoiceChanged,
  'invoice.payment_failed': invoicePaymentFailed,
  'invoice.payment_action_required': invoicePaymentActionRequired,
  'invoice.voided': invoiceClosedUnpaid,
  'invoice.marked_uncollectible': invoiceClosedUnpaid,
  'charge.refunded': chargeRefunded,
  'charge.dispute.created': disputeChanged,
  'charge.dispute.closed': disputeChanged,
  'checkout.session.completed': checkoutCompleted,
  'payment_method.attached': paymentMethodChanged,
  'payment_method.detached': paymentMethodChanged,
  'payment_method.updated': paymentMethodChanged,
  // The 20 reconciled above (all but the two announced twice) are the reconciler's first listing; below, its second.
  'setup_intent.succeeded': setupIntentSucceeded,
  'credit_note.created': creditNoteChanged,
  'credit_note.voided': creditNoteChanged,
  // The card network replaced a saved card's number or expiry (Stripe's card account updater: "Occurs whenever a
  // payment method's details are automatically updated by the network",
  // https://docs.stripe.com/api/events/types#event_types-payment_method.automatically_updated): read it again.
  'payment_method.automatically_updated': paymentMethodChanged,
};

/** The events to register the webhook endpoint for. */
export const HANDLED_EVENT_TYPES = Object.keys(HANDLERS);

/**
 * Handled types whose every change Stripe also announces with another handled type on the same object: a pending
 * update applied or expired changes the subscription, so `customer.subscription.updated` goes with it (and its
 * handler reads the subscription from Stripe whatever the event says).
 */
const ANNOUNCED_TWICE = new Set([
  'customer.subscription.pending_update_applied',
  'customer.subscription.pending_update_expired',
]);

/**
 * The types the reconciler lists events of (in listings of at most 20, Stripe's cap on the `types[]` filter of
 * GET /v1/events: `eventTypePasses`): every handled type but those announced twice, whose state a missed delivery
 * still reaches through the other.
 */
export const RECONCILED_EVENT_TYPES = HANDLED_EVENT_TYPES.filter((type) => !ANNOUNCED_TWICE.has(type));
