/** Turns a subscription's lines into an invoice and collects it, with the payment method Stripe would charge. */
import type Stripe from 'stripe';
import { cardError, invalidRequest } from '../../core/errors';
import { billingConfig } from '../config/config';
import { type Emulator, idOf, now } from '../context';
import type { LineSpec } from '../invoices/invoice-objects';
import { advanceInvoice, createInvoice, customerIdOf, requiresActionError } from '../invoices/invoices';
import { needsAuthentication } from '../payments/authentication';
import { cardOutcome } from '../payments/cards';
import { COLLECTIONS } from '../../core/collections';
import { saveSubscription } from './subscription-state';

function customerOfSubscription(emulator: Emulator, subscription: Stripe.Subscription): Stripe.Customer {
  return emulator.store.require(COLLECTIONS.customer, customerIdOf(subscription), 'customer');
}

export function subscriptionPaymentMethod(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  override?: string | null,
): string | null {
  const own = override !== undefined ? override : idOf(subscription.default_payment_method);
  if (own) return own;
  const c = emulator.store.get(COLLECTIONS.customer, customerIdOf(subscription));
  return idOf(c?.invoice_settings?.default_payment_method ?? null) ?? idOf(c?.default_source ?? null);
}

/**
 * How a subscription invoice is collected. `pay`: finalize and (automatic collection) charge at once, as Stripe
 * does for a subscription's first invoice (https://docs.stripe.com/billing/invoices/subscription#new-subscription-invoices),
 * `always_invoice` updates and `invoice_now` cancellations. `afterGrace`: a cycle invoice stays a draft for the
 * finalization grace period (1 h by default) and time finalizes and charges it at `automatically_finalizes_at`
 * (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period; the Invoice object: "If
 * you … have no webhooks configured, Stripe waits one hour after creation to finalize the invoice",
 * https://docs.stripe.com/api/invoices/object). `autoAdvance: false` leaves the draft alone.
 */
export interface InvoiceCollection {
  pay: boolean;
  autoAdvance?: boolean;
  afterGrace?: boolean;
}

/**
 * Creates an invoice for the subscription and collects it per `collection`. `window` is the invoice's
 * `period_start`/`period_end`: the window in which its invoice items were attached, not the service period
 * (that is on the lines).
 */
export function invoiceSubscription(
  emulator: Emulator,
  subscription: Stripe.Subscription,
  reason: Stripe.Invoice.BillingReason,
  lines: LineSpec[],
  window: { start: number; end: number },
  collection: InvoiceCollection = { pay: true },
): { invoice: Stripe.Invoice; ok: boolean } {
  const customer = customerOfSubscription(emulator, subscription);
  const created = now(emulator, customer.id);
  const autoAdvance = collection.autoAdvance ?? true;
  const grace = billingConfig(emulator).finalizationGraceSeconds;
  const waitsForGrace = collection.afterGrace === true && autoAdvance && grace > 0;
  const invoice = createInvoice(
    emulator,
    {
      customer,
      subscription,
      billingReason: reason,
      currency: subscription.currency,
      created,
      periodStart: window.start,
      periodEnd: window.end,
      collectionMethod: subscription.collection_method,
      daysUntilDue: subscription.days_until_due,
      defaultPaymentMethod: null,
      description: null,
      metadata: {},
      autoAdvance,
      automaticallyFinalizesAt: waitsForGrace ? created + grace : null,
    },
    lines,
    { subscription: subscription.id },
  );
  subscription.latest_invoice = invoice.id;
  saveSubscription(emulator, subscription);
  const collectNow = collection.pay || (collection.afterGrace === true && autoAdvance && grace === 0);
  if (!collectNow) return { invoice, ok: false };
  const r = advanceInvoice(emulator, invoice);
  return { invoice: r.invoice, ok: r.ok };
}

/** 402 (or 400 without a payment method) when charging `paymentMethod` would fail. */
export function assertChargeable(emulator: Emulator, paymentMethod: string | null): void {
  const failure = chargeFailure(emulator, paymentMethod);
  if (failure) throw failure;
}

/** Stripe's error for charging `paymentMethod` with the customer present, or null when it would be paid. */
export function chargeFailure(emulator: Emulator, paymentMethod: string | null): Error | null {
  if (!paymentMethod) {
    return invalidRequest(
      'This customer has no attached payment source or default payment method. Please consider adding a default payment method.',
    );
  }
  // The customer is present when subscribing or changing a plan: a card whose issuer asks for 3-D Secure cannot be
  // charged without them, and `error_if_incomplete` answers Stripe's 402 instead of creating anything.
  if (needsAuthentication(emulator, paymentMethod, false)) return requiresActionError();
  const o = cardOutcome(emulator, paymentMethod);
  return o.ok ? null : cardError(o.code, o.message, o.declineCode);
}
