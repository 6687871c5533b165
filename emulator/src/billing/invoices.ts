/**
 * The invoice life cycle: draft → open (finalize) → paid | void | uncollectible, with the events
 * Stripe sends (https://docs.stripe.com/invoicing/overview#invoice-lifecycle). Payment goes through
 * a payment intent created at finalization (its client secret is the invoice's
 * `confirmation_secret`). Totals are integer cents; a negative total is credited to the customer's
 * balance (https://docs.stripe.com/invoicing/customer/balance).
 */
import type Stripe from 'stripe';
import { cardError, invalidRequest } from '../core/errors';
import { previousAttributes } from '../core/store';
import { C, type Emulator, emit, id, idOf, now } from './ctx';
import { invoiceListeners } from './hooks';
import {
  buildInvoice,
  buildLine,
  customerIdOf,
  type InvoiceArgs,
  type LineSpec,
  subscriptionIdOfInvoice,
} from './invoice-objects';
import { invoiceTotals } from './math';
import { refreshMeteredLines } from './metered-lines';
import { type ChargeResult, confirmPaymentIntent, cancelPaymentIntent, newPaymentIntent } from './payments';
import { hostedUrl } from './urls';

interface Numbering {
  id: string;
  prefix: string;
  next: number;
}

interface PiLink {
  id: string;
  invoice: string;
}

/** `pending_invoice_items_behavior`: which pending invoice items a new invoice pulls in. */
export type PendingMode = 'exclude' | 'include' | { subscription: string };

export function createInvoice(
  emu: Emulator,
  args: InvoiceArgs,
  lines: LineSpec[],
  pending: PendingMode,
): Stripe.Invoice {
  const inv = buildInvoice(args);
  for (const spec of lines) inv.lines.data.push(buildLine(inv.id, spec));
  if (pending !== 'exclude') {
    for (const ii of pendingItems(emu, args.customer.id, pending)) {
      ii.invoice = inv.id;
      emu.store.put(C.invoiceItem, ii);
      inv.lines.data.push(buildLine(inv.id, invoiceItemLine(emu, ii)));
    }
  }
  recomputeTotals(inv, 0);
  emu.store.insert(C.invoice, inv);
  emit(emu, 'invoice.created', inv);
  return inv;
}

/**
 * Pending items, oldest first. For a subscription invoice Stripe takes the customer's pending
 * items that belong to that subscription or to none.
 */
export function pendingItems(emu: Emulator, customerId: string, pending: PendingMode): Stripe.InvoiceItem[] {
  return emu.store
    .all<Stripe.InvoiceItem>(C.invoiceItem)
    .filter((ii) => customerIdOf(ii) === customerId && ii.invoice === null)
    .filter((ii) => {
      if (pending === 'include' || pending === 'exclude') return true;
      const sub = ii.parent?.subscription_details?.subscription ?? null;
      return sub === null || sub === pending.subscription;
    })
    .reverse();
}

export function invoiceItemLine(emu: Emulator, ii: Stripe.InvoiceItem): LineSpec {
  const priceId = ii.pricing?.price_details?.price ?? null;
  const price = priceId ? (emu.store.get<Stripe.Price>(C.price, idOf(priceId) ?? '') ?? null) : null;
  return {
    amount: ii.amount,
    currency: ii.currency,
    description: ii.description,
    period: ii.period,
    price,
    quantity: ii.quantity,
    proration: ii.proration,
    subscription: ii.parent?.subscription_details?.subscription ?? null,
    subscriptionItem: ii.parent?.subscription_details?.subscription_item ?? null,
    invoiceItem: ii.id,
    metadata: ii.metadata ?? {},
  };
}

/** Sums lines into subtotal/total/amount_due; `balance` is the customer balance to apply. */
export function recomputeTotals(inv: Stripe.Invoice, balance: number): void {
  const t = invoiceTotals(
    inv.lines.data.map((l) => l.amount),
    balance,
  );
  inv.subtotal = t.subtotal;
  inv.subtotal_excluding_tax = t.subtotal;
  inv.total = t.total;
  inv.total_excluding_tax = t.total;
  inv.starting_balance = t.startingBalance;
  inv.ending_balance = inv.status === 'draft' ? null : t.endingBalance;
  inv.amount_due = t.amountDue;
  inv.amount_remaining = Math.max(0, t.amountDue - inv.amount_paid);
}

function nextNumber(emu: Emulator, customer: Stripe.Customer): string {
  let n = emu.store.get<Numbering>(C.numbering, customer.id);
  if (!n) {
    const prefix = customer.invoice_prefix ?? customer.id.replace(/^cus_/, '').slice(0, 8).toUpperCase();
    n = { id: customer.id, prefix, next: 1 };
  }
  const number = `${n.prefix}-${String(n.next).padStart(4, '0')}`;
  n.next++;
  emu.store.put(C.numbering, n);
  return number;
}

/** The payment method an invoice is charged with when none is given. */
export function defaultPaymentMethodFor(emu: Emulator, inv: Stripe.Invoice): string | null {
  const own = idOf(inv.default_payment_method);
  if (own) return own;
  const subId = subscriptionIdOfInvoice(inv);
  if (subId) {
    const sub = emu.store.get<Stripe.Subscription>(C.subscription, subId);
    const pm = idOf(sub?.default_payment_method ?? null);
    if (pm) return pm;
  }
  const customer = emu.store.get<Stripe.Customer>(C.customer, customerIdOf(inv));
  // Then the customer's default card source (`source=tok_visa`, as the CLI's fixtures use).
  return (
    idOf(customer?.invoice_settings?.default_payment_method ?? null) ?? idOf(customer?.default_source ?? null)
  );
}

/** Late usage for a line's period changes the draft first (`invoice.updated`), then it is finalized. */
function refreshUsageBeforeFinalizing(emulator: Emulator, invoice: Stripe.Invoice): void {
  const before = structuredClone(invoice);
  if (!refreshMeteredLines(emulator, invoice)) return;
  recomputeTotals(invoice, 0);
  emulator.store.put(C.invoice, invoice);
  emit(emulator, 'invoice.updated', invoice, previousAttributes(before, invoice));
}

/**
 * draft → open. Metered lines are computed again from the usage known now (see `metered-lines.ts`).
 * Applies the customer balance, numbers the invoice, creates its payment intent (charge_automatically,
 * amount > 0) and emits `invoice.finalized` (+ `payment_intent.created`).
 * A zero-amount invoice is paid at once (Stripe marks $0 invoices paid without a charge).
 */
export function finalizeInvoice(emu: Emulator, inv: Stripe.Invoice): Stripe.Invoice {
  if (inv.status !== 'draft') {
    throw invalidRequest(
      `This invoice is already finalized, you can't re-finalize a non-draft invoice.`,
      undefined,
      'invoice_not_editable',
    );
  }
  refreshUsageBeforeFinalizing(emu, inv);
  const customerId = customerIdOf(inv);
  const at = now(emu, customerId);
  const customer = emu.store.get<Stripe.Customer>(C.customer, customerId);
  const balance = customer?.balance ?? 0;
  inv.status = 'open';
  recomputeTotals(inv, balance);
  if (customer && inv.ending_balance !== null && inv.ending_balance !== balance) {
    emu.store.update<Stripe.Customer>(C.customer, customer.id, (c) => {
      c.balance = inv.ending_balance ?? 0;
    });
  }
  inv.number = customer ? nextNumber(emu, customer) : null;
  inv.status_transitions.finalized_at = at;
  inv.effective_at = at;
  inv.hosted_invoice_url = hostedUrl(emu, `/invoice/${inv.id}`);
  inv.invoice_pdf = hostedUrl(emu, `/invoice/${inv.id}/pdf`);
  inv.automatically_finalizes_at = null;
  emu.store.put(C.invoice, inv);
  emit(emu, 'invoice.finalized', inv);
  if (inv.amount_due === 0) {
    markPaid(emu, inv, null);
    return inv;
  }
  if (inv.collection_method === 'charge_automatically') {
    const pi = newPaymentIntent(emu, {
      amount: inv.amount_due,
      currency: inv.currency,
      customer: customerId,
      description:
        inv.billing_reason === 'subscription_create'
          ? 'Subscription creation'
          : `Invoice ${inv.number ?? inv.id}`,
      setupFutureUsage: savesPaymentMethod(emu, inv) ? 'off_session' : null,
    });
    emu.store.put<PiLink>(C.piLink, { id: pi.id, invoice: inv.id });
    inv.confirmation_secret = { client_secret: pi.client_secret ?? '', type: 'payment_intent' };
    const payment: Stripe.InvoicePayment = {
      id: id('inpay'),
      object: 'invoice_payment',
      amount_paid: null,
      amount_requested: inv.amount_due,
      created: at,
      currency: inv.currency,
      invoice: inv.id,
      is_default: true,
      livemode: false,
      payment: { type: 'payment_intent', payment_intent: pi.id },
      status: 'open',
      status_transitions: { canceled_at: null, paid_at: null },
    };
    emu.store.insert(C.invoicePayment, payment);
    inv.payments = {
      object: 'list',
      data: [payment],
      has_more: false,
      url: `/v1/invoice_payments?invoice=${inv.id}`,
    };
    emu.store.put(C.invoice, inv);
  }
  return inv;
}

export function invoiceForPaymentIntent(emu: Emulator, piId: string): Stripe.Invoice | undefined {
  const link = emu.store.get<PiLink>(C.piLink, piId);
  return link ? emu.store.get<Stripe.Invoice>(C.invoice, link.invoice) : undefined;
}

function paymentIntentOf(emu: Emulator, inv: Stripe.Invoice): Stripe.PaymentIntent | undefined {
  const pay = inv.payments?.data.find((p) => p.is_default);
  const piId = pay?.payment.payment_intent;
  return piId ? emu.store.get<Stripe.PaymentIntent>(C.paymentIntent, idOf(piId) ?? '') : undefined;
}

/** The payment method whose charge paid the invoice (null for $0 invoices and payments out of band). */
export function paymentMethodThatPaid(emulator: Emulator, invoice: Stripe.Invoice): string | null {
  const paymentIntent = paymentIntentOf(emulator, invoice);
  return paymentIntent?.status === 'succeeded' ? idOf(paymentIntent.payment_method) : null;
}

/**
 * An invoice of a subscription with `save_default_payment_method: on_subscription` asks its intent to save the card
 * (`setup_future_usage`), so a card it is paid with on-session is attached to the customer and can be charged again
 * (https://docs.stripe.com/billing/subscriptions/build-subscriptions).
 */
function savesPaymentMethod(emulator: Emulator, invoice: Stripe.Invoice): boolean {
  const subscriptionId = subscriptionIdOfInvoice(invoice);
  const subscription = subscriptionId
    ? emulator.store.get<Stripe.Subscription>(C.subscription, subscriptionId)
    : undefined;
  return subscription?.payment_settings?.save_default_payment_method === 'on_subscription';
}

/**
 * `customer.delinquent` (the Customer object in the SDK's types): "Paying an invoice or marking it uncollectible via
 * the API will set this field to false. An automatic payment failure or passing the `invoice.due_date` will set this
 * field to `true`", with `customer.updated` when it changes.
 */
export function setDelinquent(emulator: Emulator, customerId: string, delinquent: boolean): void {
  const customer = emulator.store.get<Stripe.Customer>(C.customer, customerId);
  if (!customer || customer.deleted || (customer.delinquent ?? false) === delinquent) return;
  const { obj, previous } = emulator.store.update<Stripe.Customer>(C.customer, customerId, (stored) => {
    stored.delinquent = delinquent;
  });
  emit(emulator, 'customer.updated', obj, previous);
}

/**
 * Who started a payment try: time or the engine collecting the invoice (`automatic`), or an API call such as
 * `/pay` or confirming the invoice's payment intent (`manual`).
 */
export type PaymentAttempt = 'automatic' | 'manual';

/**
 * `attempt_count` (the Invoice object in the SDK's types): "Any payment attempt counts as the first attempt, and
 * subsequently only automatic retries increment the attempt count".
 */
function countAttempt(invoice: Stripe.Invoice, how: PaymentAttempt): void {
  if (how === 'automatic' || invoice.attempt_count === 0) invoice.attempt_count += 1;
  invoice.attempted = true;
}

function markPaid(emu: Emulator, inv: Stripe.Invoice, pi: Stripe.PaymentIntent | null): void {
  const at = now(emu, customerIdOf(inv));
  const before = structuredClone(inv);
  inv.status = 'paid';
  inv.amount_paid = inv.amount_due;
  inv.amount_remaining = 0;
  inv.attempted = inv.attempted || inv.amount_due > 0;
  inv.next_payment_attempt = null;
  inv.status_transitions.paid_at = at;
  if (pi) {
    for (const p of inv.payments?.data ?? []) {
      if (p.payment.payment_intent === pi.id) {
        p.status = 'paid';
        p.amount_paid = inv.amount_due;
        p.status_transitions.paid_at = at;
        emu.store.put(C.invoicePayment, p);
      }
    }
  }
  emu.store.put(C.invoice, inv);
  if (pi) emit(emu, 'invoice.updated', inv, previousAttributes(before, inv));
  emit(emu, 'invoice.paid', inv);
  emit(emu, 'invoice.payment_succeeded', inv);
  setDelinquent(emu, customerIdOf(inv), false);
  for (const l of invoiceListeners()) l.paid?.(emu, inv);
}

export interface PayResult {
  ok: boolean;
  invoice: Stripe.Invoice;
  charge?: ChargeResult;
}

/**
 * One payment try on an open invoice (finalizing a draft first). A decline counts in `attempt_count` and emits
 * `invoice.payment_failed`; the invoice stays open. An automatic try also sets `next_payment_attempt` (subscription
 * invoices follow the retry schedule), makes the customer delinquent and tells the subscription; a manual one
 * (`/pay`) leaves the retry schedule alone.
 */
export function attemptPayment(
  emu: Emulator,
  inv: Stripe.Invoice,
  paymentMethod: string | null,
  how: PaymentAttempt = 'automatic',
): PayResult {
  if (inv.status === 'draft') finalizeInvoice(emu, inv);
  if (inv.status === 'paid') return { ok: true, invoice: inv };
  if (inv.status !== 'open') {
    throw invalidRequest(
      `You cannot pay an invoice with status ${inv.status}.`,
      undefined,
      'invoice_not_editable',
    );
  }
  const pm = paymentMethod ?? defaultPaymentMethodFor(emu, inv);
  const customerId = customerIdOf(inv);
  let pi = paymentIntentOf(emu, inv);
  if (!pi) {
    pi = newPaymentIntent(emu, {
      amount: inv.amount_remaining,
      currency: inv.currency,
      customer: customerId,
    });
    emu.store.put<PiLink>(C.piLink, { id: pi.id, invoice: inv.id });
  }
  const before = structuredClone(inv);
  countAttempt(inv, how);
  const result = pm ? confirmPaymentIntent(emu, pi, pm) : null;
  if (result?.ok) {
    markPaid(emu, inv, pi);
    return { ok: true, invoice: inv, charge: result };
  }
  if (how === 'automatic') inv.next_payment_attempt = nextAttempt(emu, inv);
  emu.store.put(C.invoice, inv);
  emit(emu, 'invoice.payment_failed', inv, previousAttributes(before, inv));
  if (how === 'automatic') {
    setDelinquent(emu, customerId, true);
    for (const l of invoiceListeners()) l.paymentFailed?.(emu, inv, inv.next_payment_attempt === null);
  }
  return { ok: false, invoice: inv, charge: result ?? undefined };
}

function nextAttempt(emu: Emulator, inv: Stripe.Invoice): number | null {
  if (inv.collection_method !== 'charge_automatically' || inv.auto_advance === false) return null;
  const at = now(emu, customerIdOf(inv));
  for (const l of invoiceListeners()) {
    if (l.nextAttempt) return l.nextAttempt(emu, inv, at);
  }
  return null;
}

/** `/pay` semantics: a decline is a 402 card_error (the invoice stays open with its attempt). */
export function payOrThrow(emu: Emulator, inv: Stripe.Invoice, paymentMethod: string | null): Stripe.Invoice {
  const r = attemptPayment(emu, inv, paymentMethod, 'manual');
  if (r.ok) return r.invoice;
  const d = r.charge?.decline;
  if (!d) {
    throw invalidRequest(
      'This customer has no attached payment source or default payment method. Please consider adding a default payment method.',
    );
  }
  throw cardError(d.code, d.message, d.declineCode, { charge: r.charge?.charge.id });
}

/** Called when a payment intent tied to an invoice succeeded outside the invoice (confirm). */
export function invoicePaidByIntent(emu: Emulator, piId: string): void {
  const inv = invoiceForPaymentIntent(emu, piId);
  const pi = emu.store.get<Stripe.PaymentIntent>(C.paymentIntent, piId);
  if (!inv || !pi || inv.status !== 'open') return;
  countAttempt(inv, 'manual');
  markPaid(emu, inv, pi);
}

/**
 * Called when confirming an invoice's payment intent was declined: a manual attempt of the invoice
 * (`attempt_count`, `invoice.payment_failed`); the retry schedule and the customer's delinquency stay as they were.
 */
export function invoicePaymentFailedByIntent(emulator: Emulator, paymentIntentId: string): void {
  const invoice = invoiceForPaymentIntent(emulator, paymentIntentId);
  if (!invoice || invoice.status !== 'open') return;
  const before = structuredClone(invoice);
  countAttempt(invoice, 'manual');
  emulator.store.put(C.invoice, invoice);
  emit(emulator, 'invoice.payment_failed', invoice, previousAttributes(before, invoice));
}

export function voidInvoice(emu: Emulator, inv: Stripe.Invoice): Stripe.Invoice {
  if (inv.status !== 'open' && inv.status !== 'uncollectible') {
    throw invalidRequest(
      `You can only void an open or uncollectible invoice.`,
      undefined,
      'invoice_not_editable',
    );
  }
  const before = structuredClone(inv);
  inv.status = 'void';
  inv.status_transitions.voided_at = now(emu, customerIdOf(inv));
  inv.next_payment_attempt = null;
  inv.amount_remaining = 0;
  const pi = paymentIntentOf(emu, inv);
  if (pi) cancelPaymentIntent(emu, pi, 'void_invoice');
  emu.store.put(C.invoice, inv);
  emit(emu, 'invoice.voided', inv, previousAttributes(before, inv));
  return inv;
}

export function markUncollectible(emu: Emulator, inv: Stripe.Invoice): Stripe.Invoice {
  if (inv.status !== 'open') {
    throw invalidRequest(
      `You can only mark an open invoice as uncollectible.`,
      undefined,
      'invoice_not_editable',
    );
  }
  const before = structuredClone(inv);
  inv.status = 'uncollectible';
  inv.status_transitions.marked_uncollectible_at = now(emu, customerIdOf(inv));
  inv.next_payment_attempt = null;
  emu.store.put(C.invoice, inv);
  emit(emu, 'invoice.marked_uncollectible', inv, previousAttributes(before, inv));
  setDelinquent(emu, customerIdOf(inv), false);
  return inv;
}

/** Finalize and, for automatic collection, try to pay: what Stripe's auto-advance does. */
export function advanceInvoice(
  emu: Emulator,
  inv: Stripe.Invoice,
  paymentMethod: string | null = null,
): PayResult {
  if (inv.status === 'draft') finalizeInvoice(emu, inv);
  if (inv.status !== 'open' || inv.collection_method !== 'charge_automatically') {
    return { ok: inv.status === 'paid', invoice: inv };
  }
  return attemptPayment(emu, inv, paymentMethod);
}

export function requireInvoice(emu: Emulator, invoiceId: string): Stripe.Invoice {
  return emu.store.require<Stripe.Invoice>(C.invoice, invoiceId, 'invoice');
}

export { subscriptionIdOfInvoice, customerIdOf };
