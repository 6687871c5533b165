/** How invoice outcomes move a subscription's status: paid activates, failures follow the retry schedule. */
import type Stripe from 'stripe';
import { billingConfig } from '../config/config';
import { type Emulator, emit } from '../context';
import { onInvoice } from '../hooks';
import { subscriptionIdOfInvoice } from '../invoices/invoices';
import { nextRetryAt } from '../math';
import { COLLECTIONS } from '../../core/collections';
import { pendingUpdateOfInvoice } from './pending-update';
import { paymentMethodToSave } from './save-default-payment-method';
import { cancelNow } from './subscription-lifecycle';

/** incomplete|past_due|unpaid → active, with `customer.subscription.updated`. */
export function activate(emulator: Emulator, subscription: Stripe.Subscription): void {
  if (
    subscription.status === 'active' ||
    subscription.status === 'trialing' ||
    subscription.status === 'canceled'
  )
    return;
  const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (s) => {
    s.status = 'active';
  });
  emit(emulator, 'customer.subscription.updated', obj, previous);
}

// Invoice outcomes drive subscription statuses.
onInvoice({
  paid: (emulator, invoice) => {
    const subscriptionId = subscriptionIdOfInvoice(invoice);
    if (!subscriptionId) return;
    const subscription = emulator.store.get(COLLECTIONS.subscription, subscriptionId);
    if (!subscription) return;
    const recovers =
      subscription.status === 'past_due' ||
      subscription.status === 'unpaid' ||
      // Only when no other invoice of the subscription is still open (Stripe: latest invoice).
      (subscription.status === 'incomplete' && subscription.latest_invoice === invoice.id);
    const newDefault = paymentMethodToSave(emulator, subscription, invoice);
    if (!recovers && !newDefault) return;
    const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (s) => {
      if (recovers) s.status = 'active';
      if (newDefault) s.default_payment_method = newDefault;
    });
    emit(emulator, 'customer.subscription.updated', obj, previous);
  },
  paymentFailed: (emulator, invoice, finalAttempt) => {
    const subscriptionId = subscriptionIdOfInvoice(invoice);
    if (!subscriptionId) return;
    const subscription = emulator.store.get(COLLECTIONS.subscription, subscriptionId);
    if (!subscription || subscription.status === 'canceled' || subscription.status === 'incomplete_expired')
      return;
    if (subscription.status === 'incomplete') return; // first invoice: stays incomplete
    // A pending update's invoice: "The subscription will continue to cycle as if no update request was made."
    if (pendingUpdateOfInvoice(emulator, invoice)) return;
    if (subscription.status === 'active' || subscription.status === 'trialing') {
      const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (s) => {
        s.status = 'past_due';
      });
      emit(emulator, 'customer.subscription.updated', obj, previous);
    }
    if (finalAttempt && invoice.billing_reason !== 'manual') applyFinalStatus(emulator, subscription);
  },
  nextAttempt: (emulator, invoice, failedAt) => {
    const subscriptionId = subscriptionIdOfInvoice(invoice);
    if (!subscriptionId) return null;
    const subscription = emulator.store.get(COLLECTIONS.subscription, subscriptionId);
    // Stripe stops automatic collection once a subscription is canceled (a draft finalized after that is tried once).
    // A pending update's invoice is not retried: it is paid by the customer (another card, the challenge) or
    // voided when the pending update expires, within 23 hours.
    if (
      !subscription ||
      pendingUpdateOfInvoice(emulator, invoice) ||
      subscription.status === 'incomplete' ||
      subscription.status === 'canceled' ||
      invoice.billing_reason === 'subscription_create'
    )
      return null;
    const config = billingConfig(emulator);
    return nextRetryAt(
      { delays: config.retrySchedule, finalStatus: config.finalStatus },
      invoice.attempt_count,
      failedAt,
    );
  },
});

/** After the last retry fails: Stripe's "manage failed payments" setting. */
function applyFinalStatus(emulator: Emulator, subscription: Stripe.Subscription): void {
  const final = billingConfig(emulator).finalStatus;
  if (final === 'canceled') {
    cancelNow(emulator, subscription, { invoiceNow: false, prorate: false, reason: 'payment_failed' });
  } else if (final === 'unpaid') {
    if (subscription.status === 'unpaid') return;
    const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (s) => {
      s.status = 'unpaid';
    });
    emit(emulator, 'customer.subscription.updated', obj, previous);
  }
}
