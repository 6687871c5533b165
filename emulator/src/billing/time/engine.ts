/**
 * Runs what time brings, in time order: for every subscription, invoice and schedule in scope,
 * the next due transition (schedule phase change, `trial_will_end`, trial end, renewal or
 * cancellation at period end, a draft's automatic finalization, payment retry, incomplete expiry, a pending
 * update's expiry) is found, the earliest is run
 * with the customer's clock pinned to its moment (so objects and events carry that time), and
 * the search starts again, until nothing is due by `until`.
 */
import type Stripe from 'stripe';
import { expire } from '../checkout/checkout';
import { billingConfig } from '../config/config';
import { type Emulator, idOf, withTimeAt } from '../context';
import { advanceInvoice, attemptPayment, customerIdOf, subscriptionIdOfInvoice } from '../invoices/invoices';
import { scheduleTasks } from '../schedules/schedules';
import { subscriptionPeriod } from '../subscriptions/subscription-objects';
import { endTrial, expireIncomplete, renew, sendTrialWillEnd } from '../subscriptions/subscription-lifecycle';
import { expirePendingUpdate } from '../subscriptions/pending-update';
import { subscriptionState } from '../subscriptions/subscription-state';
import { COLLECTIONS } from '../../core/collections';
import type { Task } from './task';

/** Safety net: a misconfigured schedule must not spin forever. */
const MAX_STEPS = 20_000;

function subscriptionTasks(emulator: Emulator, subscription: Stripe.Subscription): Task[] {
  const customer = customerIdOf(subscription);
  const config = billingConfig(emulator);
  const tasks: Task[] = [];
  const st = subscriptionState(emulator, subscription.id);
  if (subscription.pending_update) {
    // Before a renewal due at the same moment (priority 4): the expiry is at most the period's end.
    const at = subscription.pending_update.expires_at;
    tasks.push({ at, priority: 3, customer, run: () => expirePendingUpdate(emulator, subscription) });
  }
  if (subscription.status === 'trialing' && subscription.trial_end !== null) {
    if (!st.trialWillEndSent) {
      const at = Math.max(subscription.trial_end - config.trialWillEndSeconds, subscription.created);
      tasks.push({ at, priority: 1, customer, run: () => sendTrialWillEnd(emulator, subscription) });
    }
    tasks.push({
      at: subscription.trial_end,
      priority: 2,
      customer,
      run: () => endTrial(emulator, subscription),
    });
    return tasks;
  }
  if (subscription.status === 'incomplete' && st.incompleteExpiresAt !== null) {
    tasks.push({
      at: st.incompleteExpiresAt,
      priority: 6,
      customer,
      run: () => expireIncomplete(emulator, subscription),
    });
    return tasks;
  }
  if (
    subscription.status === 'active' ||
    subscription.status === 'past_due' ||
    subscription.status === 'unpaid'
  ) {
    const end = subscriptionPeriod(subscription).end;
    const at = subscription.cancel_at !== null && subscription.cancel_at < end ? subscription.cancel_at : end;
    tasks.push({ at, priority: 4, customer, run: () => renew(emulator, subscription) });
  }
  return tasks;
}

function retryTasks(emulator: Emulator, inScope: (customer: string) => boolean): Task[] {
  const tasks: Task[] = [];
  for (const invoice of emulator.store.all(COLLECTIONS.invoice)) {
    if (invoice.status !== 'open' || invoice.next_payment_attempt === null) continue;
    const customer = customerIdOf(invoice);
    if (!inScope(customer)) continue;
    const subscriptionId = subscriptionIdOfInvoice(invoice);
    const subscription = subscriptionId
      ? emulator.store.get(COLLECTIONS.subscription, subscriptionId)
      : undefined;
    if (subscription && subscription.status === 'canceled') continue;
    tasks.push({
      at: invoice.next_payment_attempt,
      priority: 5,
      customer,
      run: () => void attemptPayment(emulator, invoice, null),
    });
  }
  return tasks;
}

/**
 * Drafts at their `automatically_finalizes_at` (a subscription's cycle invoice after the finalization grace
 * period): finalized, with the usage known by then, and charged, as Stripe's automatic advancement does
 * (https://docs.stripe.com/invoicing/integration/automatic-advancement-collection).
 */
function draftTasks(emulator: Emulator, inScope: (customer: string) => boolean): Task[] {
  const tasks: Task[] = [];
  for (const invoice of emulator.store.all(COLLECTIONS.invoice)) {
    const at = invoice.automatically_finalizes_at;
    if (invoice.status !== 'draft' || !invoice.auto_advance || at === null) continue;
    const customer = customerIdOf(invoice);
    if (!inScope(customer)) continue;
    tasks.push({ at, priority: 3, customer, run: () => void advanceInvoice(emulator, invoice) });
  }
  return tasks;
}

/** Open Checkout Sessions past `expires_at` expire (`checkout.session.expired`). */
function checkoutTasks(emulator: Emulator, inScope: (customer: string) => boolean): Task[] {
  const tasks: Task[] = [];
  for (const s of emulator.store.all(COLLECTIONS.checkoutSession)) {
    if (s.status !== 'open') continue;
    const customer = idOf(s.customer) ?? '';
    if (!inScope(customer)) continue;
    tasks.push({ at: s.expires_at, priority: 7, customer, run: () => void expire(emulator, s) });
  }
  return tasks;
}

function collectTasks(emulator: Emulator, inScope: (customer: string) => boolean): Task[] {
  const tasks: Task[] = [...checkoutTasks(emulator, inScope)];
  for (const subscription of emulator.store.all(COLLECTIONS.subscription)) {
    if (!inScope(customerIdOf(subscription))) continue;
    tasks.push(...subscriptionTasks(emulator, subscription));
  }
  tasks.push(...draftTasks(emulator, inScope));
  tasks.push(...retryTasks(emulator, inScope));
  tasks.push(...scheduleTasks(emulator, inScope));
  return tasks;
}

/** Runs every task due at or before `until` (unix seconds), earliest first. */
export function runDue(emulator: Emulator, inScope: (customer: string) => boolean, until: number): number {
  let steps = 0;
  for (;;) {
    const due = collectTasks(emulator, inScope).filter((t) => t.at <= until);
    if (due.length === 0) return steps;
    due.sort((a, b) => a.at - b.at || a.priority - b.priority);
    const task = due[0];
    withTimeAt(emulator, task.customer, task.at, task.run);
    if (++steps >= MAX_STEPS) throw new Error('billing time engine: too many steps in one advance');
  }
}

/** Customers not on a test clock follow the emulator-wide clock. */
export function onGlobalClock(emulator: Emulator): (customer: string) => boolean {
  return (customerId) => {
    const c = emulator.store.get(COLLECTIONS.customer, customerId);
    return !c || idOf(c.test_clock) === null;
  };
}
