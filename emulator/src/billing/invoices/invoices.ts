/**
 * The invoice life cycle: draft → open (finalize) → paid | void | uncollectible, with the events
 * Stripe sends (https://docs.stripe.com/invoicing/overview#invoice-lifecycle). Payment goes through
 * a payment intent created at finalization (its client secret is the invoice's
 * `confirmation_secret`). Totals are integer cents; a negative total is credited to the customer's
 * balance (https://docs.stripe.com/invoicing/customer/balance).
 */
import type Stripe from 'stripe';
import { cardError, invalidRequest } from '../../core/errors';
import { previousAttributes } from '../../core/store';
import { type Emulator, emit, id, idOf, now } from '../context';
import { invoiceListeners } from '../hooks';
import {
  buildInvoice,
  buildLine,
  customerIdOf,
  type InvoiceArgs,
  type LineSpec,
  subscriptionIdOfInvoice,
} from './invoice-objects';
import { invoiceTotals } from '../math';
import { refreshMeteredLines } from './metered-lines';
import {
  type ChargeResult,
  confirmPaymentIntent,
  cancelPaymentIntent,
  newPaymentIntent,
} from '../payments/payments';
import { needsAuthentication, requireAuthentication } from '../payments/authentication';
import { hostedUrl } from '../urls';
import { applyFinalizationTax, applyInvoiceTax, invoiceTaxTotals } from '../tax/invoice-tax';
import { COLLECTIONS } from '../../core/collections';
import { totalDiscountOf } from '../discounts/amounts';
import { discountNewInvoice, refreshInvoiceDiscounts } from '../discounts/invoice-discounts';

interface Numbering {
  id: string;
  prefix: string;
  next: number;
}

interface PaymentIntentLink {
  id: string;
  invoice: string;
}

/** `pending_invoice_items_behavior`: which pending invoice items a new invoice pulls in. */
export type PendingMode = 'exclude' | 'include' | { subscription: string };

export function createInvoice(
  emulator: Emulator,
  args: InvoiceArgs,
  lines: LineSpec[],
  pending: PendingMode,
): Stripe.Invoice {
  const invoice = buildInvoice(args);
  for (const spec of lines) invoice.lines.data.push(buildLine(invoice.id, spec));
  if (pending !== 'exclude') {
    for (const invoiceItem of pendingItems(emulator, args.customer.id, pending)) {
      invoiceItem.invoice = invoice.id;
      emulator.store.put(COLLECTIONS.invoiceItem, invoiceItem);
      invoice.lines.data.push(buildLine(invoice.id, invoiceItemLine(emulator, invoiceItem)));
    }
  }
  discountNewInvoice(emulator, invoice, args.subscription);
  applyInvoiceTax(emulator, invoice);
  recomputeTotals(invoice, 0);
  emulator.store.insert(COLLECTIONS.invoice, invoice);
  emit(emulator, 'invoice.created', invoice);
  return invoice;
}

/**
 * Pending items, oldest first. For a subscription invoice Stripe takes the customer's pending
 * items that belong to that subscription or to none.
 */
export function pendingItems(
  emulator: Emulator,
  customerId: string,
  pending: PendingMode,
): Stripe.InvoiceItem[] {
  return emulator.store
    .all(COLLECTIONS.invoiceItem)
    .filter((invoiceItem) => customerIdOf(invoiceItem) === customerId && invoiceItem.invoice === null)
    .filter((invoiceItem) => {
      if (pending === 'include' || pending === 'exclude') return true;
      const subscription = invoiceItem.parent?.subscription_details?.subscription ?? null;
      return subscription === null || subscription === pending.subscription;
    })
    .reverse();
}

export function invoiceItemLine(emulator: Emulator, invoiceItem: Stripe.InvoiceItem): LineSpec {
  const priceId = invoiceItem.pricing?.price_details?.price ?? null;
  const price = priceId ? (emulator.store.get(COLLECTIONS.price, idOf(priceId) ?? '') ?? null) : null;
  return {
    amount: invoiceItem.amount,
    currency: invoiceItem.currency,
    description: invoiceItem.description,
    period: invoiceItem.period,
    price,
    quantity: invoiceItem.quantity,
    proration: invoiceItem.proration,
    subscription: invoiceItem.parent?.subscription_details?.subscription ?? null,
    subscriptionItem: invoiceItem.parent?.subscription_details?.subscription_item ?? null,
    invoiceItem: invoiceItem.id,
    metadata: invoiceItem.metadata ?? {},
    discounts: (invoiceItem.discounts ?? []).map((discount) => idOf(discount) ?? ''),
  };
}

/**
 * Sums lines (and the taxes already on them: `applyInvoiceTax`) into subtotal/total/amount_due; `balance` is the
 * customer balance to apply.
 */
export function recomputeTotals(invoice: Stripe.Invoice, balance: number): void {
  const tax = invoiceTaxTotals(invoice);
  const t = invoiceTotals(
    invoice.lines.data.map((l) => l.amount),
    balance,
    totalDiscountOf(invoice),
    tax.exclusive,
  );
  invoice.subtotal = t.subtotal;
  invoice.subtotal_excluding_tax = t.subtotal - tax.inclusive;
  invoice.total = t.total;
  invoice.total_excluding_tax = t.total - tax.exclusive - tax.inclusive;
  invoice.total_taxes = tax.totalTaxes;
  invoice.starting_balance = t.startingBalance;
  invoice.ending_balance = invoice.status === 'draft' ? null : t.endingBalance;
  invoice.amount_due = t.amountDue;
  invoice.amount_remaining = Math.max(0, t.amountDue - invoice.amount_paid);
}

function nextNumber(emulator: Emulator, customer: Stripe.Customer): string {
  let n = emulator.store.get(COLLECTIONS.numbering, customer.id);
  if (!n) {
    const prefix = customer.invoice_prefix ?? customer.id.replace(/^cus_/, '').slice(0, 8).toUpperCase();
    n = { id: customer.id, prefix, next: 1 };
  }
  const number = `${n.prefix}-${String(n.next).padStart(4, '0')}`;
  n.next++;
  emulator.store.put(COLLECTIONS.numbering, n);
  return number;
}

/** The payment method an invoice is charged with when none is given. */
function defaultPaymentMethodFor(emulator: Emulator, invoice: Stripe.Invoice): string | null {
  const own = idOf(invoice.default_payment_method);
  if (own) return own;
  const subscriptionId = subscriptionIdOfInvoice(invoice);
  if (subscriptionId) {
    const subscription = emulator.store.get(COLLECTIONS.subscription, subscriptionId);
    const paymentMethod = idOf(subscription?.default_payment_method ?? null);
    if (paymentMethod) return paymentMethod;
  }
  const customer = emulator.store.get(COLLECTIONS.customer, customerIdOf(invoice));
  // Then the customer's default card source (`source=tok_visa`, as the CLI's fixtures use).
  return (
    idOf(customer?.invoice_settings?.default_payment_method ?? null) ?? idOf(customer?.default_source ?? null)
  );
}

/** Late usage for a line's period changes the draft first (`invoice.updated`), then it is finalized. */
function refreshUsageBeforeFinalizing(emulator: Emulator, invoice: Stripe.Invoice): void {
  const before = structuredClone(invoice);
  if (!refreshMeteredLines(emulator, invoice)) return;
  refreshInvoiceDiscounts(emulator, invoice);
  applyInvoiceTax(emulator, invoice);
  recomputeTotals(invoice, 0);
  emulator.store.put(COLLECTIONS.invoice, invoice);
  emit(emulator, 'invoice.updated', invoice, previousAttributes(before, invoice));
}

/**
 * draft → open. Metered lines are computed again from the usage known now (see `metered-lines.ts`).
 * Applies the customer balance, numbers the invoice, creates its payment intent (charge_automatically,
 * amount > 0) and emits `invoice.finalized` (+ `payment_intent.created`).
 * A zero-amount invoice is paid at once (Stripe marks $0 invoices paid without a charge).
 */
export function finalizeInvoice(
  emulator: Emulator,
  invoice: Stripe.Invoice,
  /** False when a payment already taken pays the invoice (`finalizePaidByIntent`). */
  collects = true,
): Stripe.Invoice {
  if (invoice.status !== 'draft') {
    throw invalidRequest(
      `This invoice is already finalized, you can't re-finalize a non-draft invoice.`,
      undefined,
      'invoice_not_editable',
    );
  }
  refreshUsageBeforeFinalizing(emulator, invoice);
  const customerId = customerIdOf(invoice);
  const at = now(emulator, customerId);
  const customer = emulator.store.get(COLLECTIONS.customer, customerId);
  const balance = customer?.balance ?? 0;
  invoice.status = 'open';
  applyFinalizationTax(emulator, invoice);
  recomputeTotals(invoice, balance);
  if (customer && invoice.ending_balance !== null && invoice.ending_balance !== balance) {
    emulator.store.update(COLLECTIONS.customer, customer.id, (c) => {
      c.balance = invoice.ending_balance ?? 0;
    });
  }
  invoice.number = customer ? nextNumber(emulator, customer) : null;
  invoice.status_transitions.finalized_at = at;
  invoice.effective_at = at;
  invoice.hosted_invoice_url = hostedUrl(emulator, `/invoice/${invoice.id}`);
  invoice.invoice_pdf = hostedUrl(emulator, `/invoice/${invoice.id}/pdf`);
  invoice.automatically_finalizes_at = null;
  emulator.store.put(COLLECTIONS.invoice, invoice);
  emit(emulator, 'invoice.finalized', invoice);
  if (invoice.amount_due === 0) {
    markPaid(emulator, invoice, null);
    return invoice;
  }
  if (collects && invoice.collection_method === 'charge_automatically') {
    const paymentIntent = newPaymentIntent(emulator, {
      amount: invoice.amount_due,
      currency: invoice.currency,
      customer: customerId,
      description:
        invoice.billing_reason === 'subscription_create'
          ? 'Subscription creation'
          : `Invoice ${invoice.number ?? invoice.id}`,
      setupFutureUsage: savesPaymentMethod(emulator, invoice) ? 'off_session' : null,
    });
    invoice.confirmation_secret = {
      client_secret: paymentIntent.client_secret ?? '',
      type: 'payment_intent',
    };
    recordInvoicePayment(emulator, invoice, paymentIntent, at);
  }
  return invoice;
}

/** Links `paymentIntent` to the invoice as its (default, still open) payment: `invoice.payments`. */
function recordInvoicePayment(
  emulator: Emulator,
  invoice: Stripe.Invoice,
  paymentIntent: Stripe.PaymentIntent,
  at: number,
): void {
  emulator.store.put(COLLECTIONS.paymentIntentLink, { id: paymentIntent.id, invoice: invoice.id });
  const payment: Stripe.InvoicePayment = {
    id: id('inpay'),
    object: 'invoice_payment',
    amount_paid: null,
    amount_requested: invoice.amount_due,
    created: at,
    currency: invoice.currency,
    invoice: invoice.id,
    is_default: true,
    livemode: false,
    payment: { type: 'payment_intent', payment_intent: paymentIntent.id },
    status: 'open',
    status_transitions: { canceled_at: null, paid_at: null },
  };
  emulator.store.insert(COLLECTIONS.invoicePayment, payment);
  invoice.payments = {
    object: 'list',
    data: [payment],
    has_more: false,
    url: `/v1/invoice_payments?invoice=${invoice.id}`,
  };
  emulator.store.put(COLLECTIONS.invoice, invoice);
}

/**
 * A draft made for a payment that already succeeded (Checkout's post-payment invoice,
 * https://stripe.com/docs/payments/checkout/post-payment-invoices): finalized, its payment is that intent, and it
 * is paid at once ("Stripe emits an invoice.paid event as soon as the payment tied to the Checkout Session
 * succeeds"). No new payment intent and no charge.
 */
export function finalizePaidByIntent(
  emulator: Emulator,
  invoice: Stripe.Invoice,
  paymentIntent: Stripe.PaymentIntent,
): Stripe.Invoice {
  finalizeInvoice(emulator, invoice, false);
  if (invoice.status === 'paid') return invoice;
  recordInvoicePayment(emulator, invoice, paymentIntent, now(emulator, customerIdOf(invoice)));
  countAttempt(invoice, 'manual');
  markPaid(emulator, invoice, paymentIntent);
  return invoice;
}

function invoiceForPaymentIntent(emulator: Emulator, paymentIntentId: string): Stripe.Invoice | undefined {
  const link = emulator.store.get(COLLECTIONS.paymentIntentLink, paymentIntentId);
  return link ? emulator.store.get(COLLECTIONS.invoice, link.invoice) : undefined;
}

export function paymentIntentOf(
  emulator: Emulator,
  invoice: Stripe.Invoice,
): Stripe.PaymentIntent | undefined {
  const pay = invoice.payments?.data.find((p) => p.is_default);
  const paymentIntentId = pay?.payment.payment_intent;
  return paymentIntentId
    ? emulator.store.get(COLLECTIONS.paymentIntent, idOf(paymentIntentId) ?? '')
    : undefined;
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
    ? emulator.store.get(COLLECTIONS.subscription, subscriptionId)
    : undefined;
  return subscription?.payment_settings?.save_default_payment_method === 'on_subscription';
}

/**
 * `customer.delinquent` (the Customer object in the SDK's types): "Paying an invoice or marking it uncollectible via
 * the API will set this field to false. An automatic payment failure or passing the `invoice.due_date` will set this
 * field to `true`", with `customer.updated` when it changes.
 */
export function setDelinquent(emulator: Emulator, customerId: string, delinquent: boolean): void {
  const customer = emulator.store.get(COLLECTIONS.customer, customerId);
  if (!customer || customer.deleted || (customer.delinquent ?? false) === delinquent) return;
  const { obj, previous } = emulator.store.update(COLLECTIONS.customer, customerId, (stored) => {
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

function markPaid(
  emulator: Emulator,
  invoice: Stripe.Invoice,
  paymentIntent: Stripe.PaymentIntent | null,
): void {
  const at = now(emulator, customerIdOf(invoice));
  const before = structuredClone(invoice);
  invoice.status = 'paid';
  invoice.amount_paid = invoice.amount_due;
  invoice.amount_remaining = 0;
  invoice.attempted = invoice.attempted || invoice.amount_due > 0;
  invoice.next_payment_attempt = null;
  invoice.status_transitions.paid_at = at;
  const paidPayments: Stripe.InvoicePayment[] = [];
  if (paymentIntent) {
    for (const p of invoice.payments?.data ?? []) {
      if (p.payment.payment_intent === paymentIntent.id) {
        p.status = 'paid';
        p.amount_paid = invoice.amount_due;
        p.status_transitions.paid_at = at;
        emulator.store.put(COLLECTIONS.invoicePayment, p);
        paidPayments.push(p);
      }
    }
  }
  emulator.store.put(COLLECTIONS.invoice, invoice);
  if (paymentIntent) emit(emulator, 'invoice.updated', invoice, previousAttributes(before, invoice));
  emit(emulator, 'invoice.paid', invoice);
  emit(emulator, 'invoice.payment_succeeded', invoice);
  // "Occurs when an InvoicePayment is successfully paid" (InvoicePaymentPaidEvent in the SDK's types): one per
  // payment of the invoice that the payment intent paid. An invoice paid out of band, or of zero, has no payment
  // that was paid, so none is sent. Stripe guarantees no order between events; this one follows the invoice's.
  for (const p of paidPayments)
    emit(emulator, 'invoice_payment.paid', p, undefined, customerIdOf(invoice) ?? undefined);
  setDelinquent(emulator, customerIdOf(invoice), false);
  for (const l of invoiceListeners()) l.paid?.(emulator, invoice);
}

export interface PayResult {
  ok: boolean;
  invoice: Stripe.Invoice;
  charge?: ChargeResult;
  /** The card's issuer asked for 3-D Secure: the intent is `requires_action`, nothing was charged. */
  requiresAction?: boolean;
}

/**
 * Whether a payment try happens with the customer present (on-session). The engine's collection of a
 * subscription's first invoice, or of an update's invoice, happens in the customer's own request; renewals and
 * retries are off-session, and so is `/pay` (its `off_session` defaults to true, the SDK's InvoicePayParams).
 */
function customerPresent(invoice: Stripe.Invoice, how: PaymentAttempt): boolean {
  return (
    how === 'automatic' &&
    invoice.attempt_count === 0 &&
    (invoice.billing_reason === 'subscription_create' || invoice.billing_reason === 'subscription_update')
  );
}

/**
 * One payment try on an open invoice (finalizing a draft first). A decline counts in `attempt_count` and emits
 * `invoice.payment_failed`; the invoice stays open. An automatic try also sets `next_payment_attempt` (subscription
 * invoices follow the retry schedule), makes the customer delinquent and tells the subscription; a manual one
 * (`/pay`) leaves the retry schedule alone.
 */
export function attemptPayment(
  emulator: Emulator,
  invoice: Stripe.Invoice,
  paymentMethod: string | null,
  how: PaymentAttempt = 'automatic',
  offSession?: boolean,
): PayResult {
  if (invoice.status === 'draft') finalizeInvoice(emulator, invoice);
  if (invoice.status === 'paid') return { ok: true, invoice };
  if (invoice.status !== 'open') {
    throw invalidRequest(
      `You cannot pay an invoice with status ${invoice.status}.`,
      undefined,
      'invoice_not_editable',
    );
  }
  const chargedWith = paymentMethod ?? defaultPaymentMethodFor(emulator, invoice);
  const customerId = customerIdOf(invoice);
  let paymentIntent = paymentIntentOf(emulator, invoice);
  if (!paymentIntent) {
    paymentIntent = newPaymentIntent(emulator, {
      amount: invoice.amount_remaining,
      currency: invoice.currency,
      customer: customerId,
    });
    emulator.store.put(COLLECTIONS.paymentIntentLink, {
      id: paymentIntent.id,
      invoice: invoice.id,
    });
  }
  const before = structuredClone(invoice);
  const asks =
    chargedWith !== null &&
    needsAuthentication(emulator, chargedWith, offSession ?? !customerPresent(invoice, how));
  countAttempt(invoice, how);
  if (asks) {
    requireAuthentication(emulator, paymentIntent, chargedWith, null);
    recordFailedAttempt(emulator, invoice, before, how, true);
    return { ok: false, invoice, requiresAction: true };
  }
  const result = chargedWith ? confirmPaymentIntent(emulator, paymentIntent, chargedWith) : null;
  if (result?.ok) {
    markPaid(emulator, invoice, paymentIntent);
    return { ok: true, invoice, charge: result };
  }
  recordFailedAttempt(emulator, invoice, before, how, false);
  return { ok: false, invoice, charge: result ?? undefined };
}

/**
 * A try that did not pay: `invoice.payment_failed`, and when the card's issuer asked for authentication
 * `invoice.payment_action_required` after it ("invoice.payment_failed: … The PaymentIntent status changes to
 * requires_action"; "invoice.payment_action_required: sent when the invoice requires customer authentication",
 * https://docs.stripe.com/billing/subscriptions/webhooks). An automatic try also schedules the next one, makes the
 * customer delinquent and tells the subscription (a renewal goes past due).
 */
function recordFailedAttempt(
  emulator: Emulator,
  invoice: Stripe.Invoice,
  before: Stripe.Invoice,
  how: PaymentAttempt,
  actionRequired: boolean,
): void {
  if (how === 'automatic') invoice.next_payment_attempt = nextAttempt(emulator, invoice);
  emulator.store.put(COLLECTIONS.invoice, invoice);
  emit(emulator, 'invoice.payment_failed', invoice, previousAttributes(before, invoice));
  if (actionRequired) emit(emulator, 'invoice.payment_action_required', invoice);
  if (how !== 'automatic') return;
  setDelinquent(emulator, customerIdOf(invoice), true);
  for (const l of invoiceListeners())
    l.paymentFailed?.(emulator, invoice, invoice.next_payment_attempt === null);
}

function nextAttempt(emulator: Emulator, invoice: Stripe.Invoice): number | null {
  if (invoice.collection_method !== 'charge_automatically' || invoice.auto_advance === false) return null;
  const at = now(emulator, customerIdOf(invoice));
  for (const l of invoiceListeners()) {
    if (l.nextAttempt) return l.nextAttempt(emulator, invoice, at);
  }
  return null;
}

/** `/pay` semantics: a decline is a 402 card_error (the invoice stays open with its attempt). */
export function payOrThrow(
  emulator: Emulator,
  invoice: Stripe.Invoice,
  paymentMethod: string | null,
): Stripe.Invoice {
  const r = attemptPayment(emulator, invoice, paymentMethod, 'manual');
  if (r.ok) return r.invoice;
  if (r.requiresAction) throw requiresActionError();
  const d = r.charge?.decline;
  if (!d) {
    throw invalidRequest(
      'This customer has no attached payment source or default payment method. Please consider adding a default payment method.',
    );
  }
  throw cardError(d.code, d.message, d.declineCode, { charge: r.charge?.charge.id });
}

/**
 * Stripe's 402 when paying an invoice (or creating a subscription with `error_if_incomplete`) needs the customer's
 * authentication (https://docs.stripe.com/error-codes#invoice-payment-intent-requires-action).
 */
export function requiresActionError(): Error {
  return cardError(
    'invoice_payment_intent_requires_action',
    'This payment requires additional user action before it can be completed successfully. Payment can be completed using the PaymentIntent associated with the invoice.',
  );
}

/** Called when a payment intent tied to an invoice succeeded outside the invoice (confirm). */
export function invoicePaidByIntent(emulator: Emulator, paymentIntentId: string): void {
  const invoice = invoiceForPaymentIntent(emulator, paymentIntentId);
  const paymentIntent = emulator.store.get(COLLECTIONS.paymentIntent, paymentIntentId);
  if (!invoice || !paymentIntent || invoice.status !== 'open') return;
  countAttempt(invoice, 'manual');
  markPaid(emulator, invoice, paymentIntent);
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
  emulator.store.put(COLLECTIONS.invoice, invoice);
  emit(emulator, 'invoice.payment_failed', invoice, previousAttributes(before, invoice));
}

export function voidInvoice(emulator: Emulator, invoice: Stripe.Invoice): Stripe.Invoice {
  if (invoice.status !== 'open' && invoice.status !== 'uncollectible') {
    throw invalidRequest(
      `You can only void an open or uncollectible invoice.`,
      undefined,
      'invoice_not_editable',
    );
  }
  const before = structuredClone(invoice);
  invoice.status = 'void';
  invoice.status_transitions.voided_at = now(emulator, customerIdOf(invoice));
  invoice.next_payment_attempt = null;
  invoice.amount_remaining = 0;
  const paymentIntent = paymentIntentOf(emulator, invoice);
  if (paymentIntent) cancelPaymentIntent(emulator, paymentIntent, 'void_invoice');
  emulator.store.put(COLLECTIONS.invoice, invoice);
  emit(emulator, 'invoice.voided', invoice, previousAttributes(before, invoice));
  return invoice;
}

export function markUncollectible(emulator: Emulator, invoice: Stripe.Invoice): Stripe.Invoice {
  if (invoice.status !== 'open') {
    throw invalidRequest(
      `You can only mark an open invoice as uncollectible.`,
      undefined,
      'invoice_not_editable',
    );
  }
  const before = structuredClone(invoice);
  invoice.status = 'uncollectible';
  invoice.status_transitions.marked_uncollectible_at = now(emulator, customerIdOf(invoice));
  invoice.next_payment_attempt = null;
  emulator.store.put(COLLECTIONS.invoice, invoice);
  emit(emulator, 'invoice.marked_uncollectible', invoice, previousAttributes(before, invoice));
  setDelinquent(emulator, customerIdOf(invoice), false);
  return invoice;
}

/** Finalize and, for automatic collection, try to pay: what Stripe's auto-advance does. */
export function advanceInvoice(
  emulator: Emulator,
  invoice: Stripe.Invoice,
  paymentMethod: string | null = null,
): PayResult {
  if (invoice.status === 'draft') finalizeInvoice(emulator, invoice);
  if (invoice.status !== 'open' || invoice.collection_method !== 'charge_automatically') {
    return { ok: invoice.status === 'paid', invoice };
  }
  return attemptPayment(emulator, invoice, paymentMethod);
}

export function requireInvoice(emulator: Emulator, invoiceId: string): Stripe.Invoice {
  return emulator.store.require(COLLECTIONS.invoice, invoiceId, 'invoice');
}

export { subscriptionIdOfInvoice, customerIdOf };

declare module '../../core/collections' {
  interface CollectionRecords {
    _billing_numbering: Numbering;
    _billing_pi_link: PaymentIntentLink;
  }
}
