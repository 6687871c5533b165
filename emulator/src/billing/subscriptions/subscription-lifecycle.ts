/** What ends or moves a subscription: cancel now, trial end, renewal, incomplete expiry, pause and resume. */
import type Stripe from 'stripe';
import { invalidRequest } from '../../core/errors';
import { type Emulator, emit, now } from '../context';
import { customerIdOf, subscriptionIdOfInvoice, voidInvoice } from '../invoices/invoices';
import { addIntervals, periodContaining } from '../math';
import { isMetered, recurringOf } from '../pricing';
import { subscriptionPeriod } from './subscription-objects';
import { COLLECTIONS } from '../../core/collections';
import { subscriptionState } from './subscription-state';
import { itemQuantity, licensedLines, meteredLines } from './subscription-lines';
import { invoiceSubscription, subscriptionPaymentMethod } from './subscription-invoicing';
import { prorationLines, recordProrationItems, removePendingProrations } from './update-subscription';

/**
 * Ends the subscription now (`DELETE /v1/subscriptions/:id`, https://docs.stripe.com/api/subscriptions/cancel and
 * the SDK's `SubscriptionCancelParams`): `prorate` adds an invoice item crediting the unused time of the licensed
 * items; `invoice_now` makes a final invoice, charged at once, with the metered usage of the period so far and the
 * pending items (that credit included). Without `invoice_now` the period's usage is not billed ("all metered usage
 * is discarded"); `dropPendingProrations` (both flags false on the API) removes the pending prorations.
 */
export function cancelNow(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  options: {
    invoiceNow: boolean;
    prorate: boolean;
    reason: Stripe.Subscription.CancellationDetails.Reason | null;
    dropPendingProrations?: boolean;
  },
): Stripe.Subscription {
  if (subscription.status === 'canceled') {
    throw invalidRequest(`No such subscription: '${subscription.id}'`, 'id', 'resource_missing');
  }
  const at = now(emulator, customerIdOf(subscription));
  const period = subscriptionPeriod(subscription);
  if (options.prorate && subscription.status === 'active') {
    const planned = subscription.items.data
      .filter((item) => !isMetered(item.price))
      .map((item) => ({
        item,
        oldPrice: item.price,
        oldQuantity: itemQuantity(item),
        newPrice: null,
        newQuantity: 0,
      }));
    recordProrationItems(emulator, subscription, prorationLines(emulator, subscription, planned, at));
  }
  if (options.dropPendingProrations && !options.invoiceNow && !options.prorate)
    removePendingProrations(emulator, subscription);
  if (options.invoiceNow) {
    const metered = meteredLines(emulator, subscription, { start: period.start, end: at }).filter(
      (l) => l.amount !== 0,
    );
    invoiceSubscription(emulator, subscription, 'subscription_cycle', metered, {
      start: period.start,
      end: at,
    });
  }
  // Stripe stops automatic collection of the subscription's open invoices.
  for (const invoice of emulator.store.all(COLLECTIONS.invoice)) {
    if (
      subscriptionIdOfInvoice(invoice) === subscription.id &&
      invoice.status === 'open' &&
      invoice.next_payment_attempt !== null
    ) {
      invoice.next_payment_attempt = null;
      invoice.auto_advance = false;
      emulator.store.put(COLLECTIONS.invoice, invoice);
    }
    if (
      subscriptionIdOfInvoice(invoice) === subscription.id &&
      invoice.status === 'open' &&
      subscription.status === 'incomplete'
    ) {
      voidInvoice(emulator, invoice);
    }
  }
  const { obj } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (s) => {
    s.status = 'canceled';
    s.canceled_at = s.canceled_at ?? at;
    s.ended_at = at;
    if (options.reason)
      s.cancellation_details = {
        ...(s.cancellation_details ?? { comment: null, feedback: null, feedback_option: null }),
        reason: options.reason,
      };
  });
  emit(emulator, 'customer.subscription.deleted', obj);
  return obj;
}

// ---------------------------------------------------------------------------------------------
// What time brings

/** trialing → active (or per `missing_payment_method`), with the first `subscription_cycle` invoice. */
export function endTrial(emulator: Emulator, subscription: Stripe.Subscription): void {
  const at = subscription.trial_end ?? now(emulator, customerIdOf(subscription));
  const behavior = subscription.trial_settings?.end_behavior.missing_payment_method ?? 'create_invoice';
  const paymentMethod = subscriptionPaymentMethod(emulator, subscription);
  if (!paymentMethod && behavior === 'cancel') {
    cancelNow(emulator, subscription, { invoiceNow: false, prorate: false, reason: null });
    return;
  }
  if (!paymentMethod && behavior === 'pause') {
    const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (s) => {
      s.status = 'paused';
    });
    emit(emulator, 'customer.subscription.updated', obj, previous);
    emit(emulator, 'customer.subscription.paused', obj);
    return;
  }
  const { interval, count } = recurringOf(subscription.items.data[0].price);
  const period = { start: at, end: addIntervals(subscription.billing_cycle_anchor, interval, count, 1) };
  const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (s) => {
    s.status = 'active';
    for (const item of s.items.data) {
      item.current_period_start = period.start;
      item.current_period_end = period.end;
    }
  });
  emit(emulator, 'customer.subscription.updated', obj, previous);
  // The trial-end invoice looks back over the trial (its window); it bills the new period's licensed items and no
  // usage of the trial ("any usage accrued doesn't count toward the total charged to the customer",
  // https://docs.stripe.com/billing/subscriptions/trials), then finalizes after the grace period.
  const trialWindow = { start: subscription.trial_start ?? subscription.created, end: at };
  invoiceSubscription(
    emulator,
    obj,
    'subscription_cycle',
    licensedLines(emulator, obj, period),
    trialWindow,
    {
      pay: false,
      afterGrace: true,
    },
  );
}

/**
 * The period end: one `subscription_cycle` invoice with licensed items for the new period and
 * metered items for the elapsed one; or the end of a subscription set to cancel.
 */
export function renew(emulator: Emulator, subscription: Stripe.Subscription): void {
  const old = subscriptionPeriod(subscription);
  if (subscription.cancel_at !== null && subscription.cancel_at <= old.end) {
    const at = subscription.cancel_at;
    const metered = meteredLines(emulator, subscription, { start: old.start, end: at }).filter(
      (l) => l.amount !== 0,
    );
    const pending = emulator.store
      .all(COLLECTIONS.invoiceItem)
      .some(
        (invoiceItem) =>
          invoiceItem.invoice === null &&
          invoiceItem.parent?.subscription_details?.subscription === subscription.id,
      );
    if (metered.length > 0 || pending) {
      invoiceSubscription(
        emulator,
        subscription,
        'subscription_cycle',
        metered,
        { start: old.start, end: at },
        {
          pay: false,
          afterGrace: true,
        },
      );
    }
    cancelNow(emulator, subscription, {
      invoiceNow: false,
      prorate: false,
      reason: subscription.cancellation_details?.reason ?? 'cancellation_requested',
    });
    return;
  }
  const { interval, count } = recurringOf(subscription.items.data[0].price);
  const next = periodContaining(subscription.billing_cycle_anchor, interval, count, old.end);
  const newPeriod = {
    start: old.end,
    end: next.end > old.end ? next.end : addIntervals(old.end, interval, count, 1),
  };
  const metered = meteredLines(emulator, subscription, old);
  const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (s) => {
    for (const item of s.items.data) {
      item.current_period_start = newPeriod.start;
      item.current_period_end = newPeriod.end;
    }
  });
  emit(emulator, 'customer.subscription.updated', obj, previous);
  const lines = [...licensedLines(emulator, obj, newPeriod), ...metered];
  // An unpaid subscription keeps generating invoices, left as drafts (Stripe: no collection). Otherwise the
  // draft waits out the grace period, in which late usage of the elapsed period still counts. Its window looks
  // back one period (the service periods are on the lines).
  const unpaid = obj.status === 'unpaid';
  invoiceSubscription(emulator, obj, 'subscription_cycle', lines, old, {
    pay: false,
    autoAdvance: !unpaid,
    afterGrace: true,
  });
}

export function sendTrialWillEnd(emulator: Emulator, subscription: Stripe.Subscription): void {
  const st = subscriptionState(emulator, subscription.id);
  st.trialWillEndSent = true;
  emulator.store.put(COLLECTIONS.subscriptionState, st);
  emit(emulator, 'customer.subscription.trial_will_end', subscription);
}

export function expireIncomplete(emulator: Emulator, subscription: Stripe.Subscription): void {
  for (const invoice of emulator.store.all(COLLECTIONS.invoice)) {
    if (subscriptionIdOfInvoice(invoice) === subscription.id && invoice.status === 'open')
      voidInvoice(emulator, invoice);
  }
  const at = now(emulator, customerIdOf(subscription));
  const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (s) => {
    s.status = 'incomplete_expired';
    s.ended_at = at;
  });
  const st = subscriptionState(emulator, subscription.id);
  st.incompleteExpiresAt = null;
  emulator.store.put(COLLECTIONS.subscriptionState, st);
  emit(emulator, 'customer.subscription.updated', obj, previous);
}

/** paused → active (`/resume`): a new period from now, invoiced at once. */
export function resumeSubscription(
  emulator: Emulator,
  subscription: Stripe.Subscription,
): Stripe.Subscription {
  if (subscription.status !== 'paused') {
    throw invalidRequest('Only a paused subscription can be resumed.', undefined, 'subscription_not_paused');
  }
  const at = now(emulator, customerIdOf(subscription));
  const { interval, count } = recurringOf(subscription.items.data[0].price);
  const period = { start: at, end: addIntervals(at, interval, count, 1) };
  const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (s) => {
    s.status = 'active';
    s.billing_cycle_anchor = at;
    for (const item of s.items.data) {
      item.current_period_start = period.start;
      item.current_period_end = period.end;
    }
  });
  emit(emulator, 'customer.subscription.updated', obj, previous);
  emit(emulator, 'customer.subscription.resumed', obj);
  invoiceSubscription(emulator, obj, 'subscription_update', licensedLines(emulator, obj, period), {
    start: at,
    end: at,
  });
  return obj;
}

export function pauseSubscription(
  emulator: Emulator,
  subscription: Stripe.Subscription,
): Stripe.Subscription {
  if (subscription.status === 'canceled' || subscription.status === 'paused') {
    throw invalidRequest(`Cannot pause a subscription with status ${subscription.status}.`);
  }
  const { obj, previous } = emulator.store.update(COLLECTIONS.subscription, subscription.id, (s) => {
    s.status = 'paused';
  });
  emit(emulator, 'customer.subscription.updated', obj, previous);
  emit(emulator, 'customer.subscription.paused', obj);
  return obj;
}
