/**
 * Runs what time brings, in time order: for every subscription, invoice and schedule in scope,
 * the next due transition (schedule phase change, `trial_will_end`, trial end, renewal or
 * cancellation at period end, a draft's automatic finalization, payment retry, incomplete expiry) is found, the earliest is run
 * with the customer's clock pinned to its moment (so objects and events carry that time), and
 * the search starts again, until nothing is due by `until`.
 */
import type Stripe from 'stripe';
import { expire } from '../checkout';
import { billingConfig } from '../config';
import { C, type Emulator, idOf, withTimeAt } from '../ctx';
import { advanceInvoice, attemptPayment, customerIdOf, subscriptionIdOfInvoice } from '../invoices';
import { scheduleTasks } from '../schedules';
import { subPeriod } from '../subscription-objects';
import { endTrial, expireIncomplete, renew, sendTrialWillEnd, subState } from '../subscriptions';

export interface Task {
  at: number;
  /** Order of tasks due at the same second: phase changes before renewals, etc. */
  priority: number;
  customer: string;
  run: () => void;
}

/** Safety net: a misconfigured schedule must not spin forever. */
const MAX_STEPS = 20_000;

function subscriptionTasks(emu: Emulator, sub: Stripe.Subscription): Task[] {
  const customer = customerIdOf(sub);
  const cfg = billingConfig(emu);
  const tasks: Task[] = [];
  const st = subState(emu, sub.id);
  if (sub.status === 'trialing' && sub.trial_end !== null) {
    if (!st.trialWillEndSent) {
      const at = Math.max(sub.trial_end - cfg.trialWillEndSeconds, sub.created);
      tasks.push({ at, priority: 1, customer, run: () => sendTrialWillEnd(emu, sub) });
    }
    tasks.push({ at: sub.trial_end, priority: 2, customer, run: () => endTrial(emu, sub) });
    return tasks;
  }
  if (sub.status === 'incomplete' && st.incompleteExpiresAt !== null) {
    tasks.push({ at: st.incompleteExpiresAt, priority: 6, customer, run: () => expireIncomplete(emu, sub) });
    return tasks;
  }
  if (sub.status === 'active' || sub.status === 'past_due' || sub.status === 'unpaid') {
    const end = subPeriod(sub).end;
    const at = sub.cancel_at !== null && sub.cancel_at < end ? sub.cancel_at : end;
    tasks.push({ at, priority: 4, customer, run: () => renew(emu, sub) });
  }
  return tasks;
}

function retryTasks(emu: Emulator, inScope: (customer: string) => boolean): Task[] {
  const tasks: Task[] = [];
  for (const inv of emu.store.all<Stripe.Invoice>(C.invoice)) {
    if (inv.status !== 'open' || inv.next_payment_attempt === null) continue;
    const customer = customerIdOf(inv);
    if (!inScope(customer)) continue;
    const subId = subscriptionIdOfInvoice(inv);
    const sub = subId ? emu.store.get<Stripe.Subscription>(C.subscription, subId) : undefined;
    if (sub && sub.status === 'canceled') continue;
    tasks.push({
      at: inv.next_payment_attempt,
      priority: 5,
      customer,
      run: () => void attemptPayment(emu, inv, null),
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
  for (const invoice of emulator.store.all<Stripe.Invoice>(C.invoice)) {
    const at = invoice.automatically_finalizes_at;
    if (invoice.status !== 'draft' || !invoice.auto_advance || at === null) continue;
    const customer = customerIdOf(invoice);
    if (!inScope(customer)) continue;
    tasks.push({ at, priority: 3, customer, run: () => void advanceInvoice(emulator, invoice) });
  }
  return tasks;
}

/** Open Checkout Sessions past `expires_at` expire (`checkout.session.expired`). */
function checkoutTasks(emu: Emulator, inScope: (customer: string) => boolean): Task[] {
  const tasks: Task[] = [];
  for (const s of emu.store.all<Stripe.Checkout.Session>(C.checkoutSession)) {
    if (s.status !== 'open') continue;
    const customer = idOf(s.customer) ?? '';
    if (!inScope(customer)) continue;
    tasks.push({ at: s.expires_at, priority: 7, customer, run: () => void expire(emu, s) });
  }
  return tasks;
}

export function collectTasks(emu: Emulator, inScope: (customer: string) => boolean): Task[] {
  const tasks: Task[] = [...checkoutTasks(emu, inScope)];
  for (const sub of emu.store.all<Stripe.Subscription>(C.subscription)) {
    if (!inScope(customerIdOf(sub))) continue;
    tasks.push(...subscriptionTasks(emu, sub));
  }
  tasks.push(...draftTasks(emu, inScope));
  tasks.push(...retryTasks(emu, inScope));
  tasks.push(...scheduleTasks(emu, inScope));
  return tasks;
}

/** Runs every task due at or before `until` (unix seconds), earliest first. */
export function runDue(emu: Emulator, inScope: (customer: string) => boolean, until: number): number {
  let steps = 0;
  for (;;) {
    const due = collectTasks(emu, inScope).filter((t) => t.at <= until);
    if (due.length === 0) return steps;
    due.sort((a, b) => a.at - b.at || a.priority - b.priority);
    const task = due[0];
    withTimeAt(emu, task.customer, task.at, task.run);
    if (++steps >= MAX_STEPS) throw new Error('billing time engine: too many steps in one advance');
  }
}

/** Customers not on a test clock follow the emulator-wide clock. */
export function onGlobalClock(emu: Emulator): (customer: string) => boolean {
  return (customerId) => {
    const c = emu.store.get<Stripe.Customer>(C.customer, customerId);
    return !c || idOf(c.test_clock) === null;
  };
}
