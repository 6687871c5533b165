/**
 * What a `payment` mode Checkout Session adds to a one-time payment:
 * - `payment_intent_data` ("A subset of parameters to be passed to PaymentIntent creation for Checkout Sessions in
 *   `payment` mode", the SDK's SessionCreateParams): the intent's `metadata`, `description`, `receipt_email` and
 *   `setup_future_usage` (which alone saves the card to the customer,
 *   https://docs.stripe.com/payments/save-during-payment);
 * - `invoice_creation` ("Generate a post-purchase Invoice for one-time payments",
 *   https://stripe.com/docs/payments/checkout/post-payment-invoices): after the payment succeeds, an invoice of the
 *   session's lines, paid by that payment (`invoice.paid`), on the session as `invoice`. It needs a customer, so
 *   `customer_creation: if_required` creates one ("only subscription mode Sessions and payment mode Sessions with
 *   post-purchase invoices enabled require a Customer", the SDK's Session type).
 */
import type Stripe from 'stripe';
import { cardError, invalidRequest } from '../../core/errors';
import type { ParamReader } from '../../core/params';
import { COLLECTIONS } from '../../core/collections';
import { type Emulator, idOf, now } from '../context';
import { createInvoiceItem } from '../invoices/invoice-item-objects';
import { createInvoice, finalizePaidByIntent, invoiceItemLine } from '../invoices/invoices';
import { confirmPaymentIntent, newPaymentIntent } from '../payments/payments';

type Session = Stripe.Checkout.Session;

/** `payment_intent_data`, kept with the session until it is paid. */
export interface PaymentIntentData {
  metadata: Record<string, string>;
  description: string | null;
  receiptEmail: string | null;
  setupFutureUsage: Stripe.PaymentIntent.SetupFutureUsage | null;
}

/** Stripe refuses a parameter of payment mode in the other modes. */
function refuseOutsidePaymentMode(input: ParamReader, mode: Session['mode'], param: string): void {
  if (mode !== 'payment' && input.has(param)) {
    throw invalidRequest(`You can not pass \`${param}\` in \`${mode}\` mode.`, param);
  }
}

export function readPaymentIntentData(input: ParamReader, mode: Session['mode']): PaymentIntentData {
  refuseOutsidePaymentMode(input, mode, 'payment_intent_data');
  const data = input.obj('payment_intent_data');
  return {
    metadata: data ? data.metadata({}) : {},
    description: data?.str('description') ?? null,
    receiptEmail: data?.str('receipt_email') ?? null,
    setupFutureUsage: data?.oneOf('setup_future_usage', ['off_session', 'on_session'] as const) ?? null,
  };
}

/** The session's `invoice_creation`: present (enabled or not) in payment mode, null in the others. */
export function readInvoiceCreation(input: ParamReader, mode: Session['mode']): Session['invoice_creation'] {
  refuseOutsidePaymentMode(input, mode, 'invoice_creation');
  if (mode !== 'payment') return null;
  const creation = input.obj('invoice_creation');
  const invoiceData = creation?.obj('invoice_data');
  return {
    enabled: creation?.bool('enabled') ?? false,
    invoice_data: {
      account_tax_ids: null,
      custom_fields: null,
      description: invoiceData?.str('description') ?? null,
      footer: invoiceData?.str('footer') ?? null,
      issuer: null,
      metadata: invoiceData ? invoiceData.metadata({}) : {},
      rendering_options: null,
    },
  };
}

/** The session's fields once paid: its payment intent, and its invoice when `invoice_creation` is enabled. */
export function payForSession(
  emulator: Emulator,
  session: Session,
  customerId: string | null,
  paymentMethodId: string,
  data: PaymentIntentData,
): Pick<Session, 'payment_intent' | 'invoice'> {
  const paymentIntent = newPaymentIntent(emulator, {
    amount: session.amount_total ?? 0,
    currency: session.currency ?? 'usd',
    customer: customerId,
    paymentMethod: paymentMethodId,
    description: data.description,
    metadata: data.metadata,
    receiptEmail: data.receiptEmail,
    setupFutureUsage: data.setupFutureUsage,
  });
  const result = confirmPaymentIntent(emulator, paymentIntent, paymentMethodId);
  if (!result.ok && result.decline)
    throw cardError(result.decline.code, result.decline.message, result.decline.declineCode);
  const invoice =
    session.invoice_creation?.enabled && customerId
      ? invoiceThePayment(emulator, session, customerId, paymentIntent)
      : null;
  return { payment_intent: paymentIntent.id, invoice: invoice?.id ?? null };
}

/** The post-payment invoice: one invoice item per line of the session, paid by the session's payment intent. */
function invoiceThePayment(
  emulator: Emulator,
  session: Session,
  customerId: string,
  paymentIntent: Stripe.PaymentIntent,
): Stripe.Invoice {
  const customer = emulator.store.require(COLLECTIONS.customer, customerId, 'customer');
  const at = now(emulator, customerId);
  const items = (session.line_items?.data ?? []).map((line) =>
    invoiceItemOfLine(emulator, customer, line, at),
  );
  const invoiceData = session.invoice_creation?.invoice_data;
  const invoice = createInvoice(
    emulator,
    {
      customer,
      subscription: null,
      billingReason: 'manual',
      currency: session.currency ?? paymentIntent.currency,
      created: at,
      periodStart: at,
      periodEnd: at,
      collectionMethod: 'charge_automatically',
      daysUntilDue: null,
      defaultPaymentMethod: null,
      description: invoiceData?.description ?? null,
      metadata: invoiceData?.metadata ?? {},
      autoAdvance: false,
      automaticTax: session.automatic_tax.enabled,
    },
    items.map((item) => invoiceItemLine(emulator, item)),
    'exclude',
  );
  for (const item of items)
    emulator.store.update(COLLECTIONS.invoiceItem, item.id, (i) => {
      i.invoice = invoice.id;
    });
  return finalizePaidByIntent(emulator, invoice, paymentIntent);
}

/** A session line billed once: an invoice item of its price and quantity, before tax (the invoice computes its own). */
export function invoiceItemOfLine(
  emulator: Emulator,
  customer: Stripe.Customer,
  line: Stripe.LineItem,
  at: number,
): Stripe.InvoiceItem {
  return createInvoiceItem(emulator, {
    customer: customer.id,
    amount: line.amount_subtotal,
    currency: line.currency,
    description: line.description,
    period: { start: at, end: at },
    price: line.price,
    quantity: line.quantity ?? 1,
    proration: false,
    subscription: null,
    subscriptionItem: null,
    invoice: null,
    metadata: {},
    testClock: idOf(customer.test_clock),
  });
}
