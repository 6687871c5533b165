import type { WebhookHandler } from '../handler.types';
import { chargeRefunded, disputeChanged } from './charge.handlers';
import { checkoutCompleted } from './checkout.handlers';
import { customerChanged, customerDeleted } from './customer.handlers';
import { invoiceChanged, invoicePaymentActionRequired, invoicePaymentFailed } from './invoice.handlers';
import { paymentMethodChanged } from './payment-method.handlers';
import { subscriptionChanged, subscriptionDeleted, trialWillEnd } from './subscription.handlers';

/**
 * The one map from Stripe event type to its handler. A type not listed is stored, logged and answered 200.
 * These are also the types the webhook endpoint subscribes to and the reconciler lists (`types[]`, which Stripe
 * caps at 20: a unit test keeps this map within it).
 */
export const HANDLERS: Readonly<Record<string, WebhookHandler>> = {
  'customer.created': customerChanged,
  'customer.updated': customerChanged,
  'customer.deleted': customerDeleted,
  'customer.subscription.created': subscriptionChanged,
  'customer.subscription.updated': subscriptionChanged,
  'customer.subscription.deleted': subscriptionDeleted,
  'customer.subscription.trial_will_end': trialWillEnd,
  'invoice.paid': invoiceChanged,
  'invoice.finalized': invoiceChanged,
  'invoice.payment_failed': invoicePaymentFailed,
  'invoice.payment_action_required': invoicePaymentActionRequired,
  'invoice.voided': invoiceChanged,
  'invoice.marked_uncollectible': invoiceChanged,
  'charge.refunded': chargeRefunded,
  'charge.dispute.created': disputeChanged,
  'charge.dispute.closed': disputeChanged,
  'checkout.session.completed': checkoutCompleted,
  'payment_method.attached': paymentMethodChanged,
  'payment_method.detached': paymentMethodChanged,
  'payment_method.updated': paymentMethodChanged,
};

/** The events to register the webhook endpoint for. */
export const HANDLED_EVENT_TYPES = Object.keys(HANDLERS);
