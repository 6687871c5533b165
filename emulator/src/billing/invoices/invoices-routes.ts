/**
 * `/v1/invoices`, `/v1/invoiceitems`, `/v1/invoice_payments`: parameter parsing and responses;
 * the life cycle lives in `invoices.ts`.
 */
import { ACCEPTED } from '../accepted-params';
import type Stripe from 'stripe';
import { invalidRequest } from '../../core/errors';
import type { ApiRequest, Route } from '../../core/http';
import { paginate } from '../../core/list';
import { previousAttributes } from '../../core/store';
import { search } from '../../core/search';
import { requireCustomer, requirePrice } from '../../resources/common';
import { attachPaymentMethod, resolvePaymentMethod } from '../../resources/payment-methods';
import { type Emulator, emit, idOf, now } from '../context';
import { createInvoiceItem } from './invoice-item-objects';
import { buildLine } from './invoice-objects';
import {
  createInvoice,
  customerIdOf,
  finalizeInvoice,
  invoiceItemLine,
  markUncollectible,
  payOrThrow,
  recomputeTotals,
  requireInvoice,
  setDelinquent,
  subscriptionIdOfInvoice,
  voidInvoice,
} from './invoices';
import { createPreview } from './preview';
import { priceInCurrency } from '../../resources/price-currency-options';
import { priceAmount } from '../pricing';
import type { ParamReader } from '../../core/params';
import { applyInvoiceTax } from '../tax/invoice-tax';
import { readAutomaticTax, readDefaultTaxRates, refuseMixedTax } from '../tax/subscription-tax';
import { learnOrigin } from '../urls';
import { COLLECTIONS } from '../../core/collections';
import { refreshInvoiceDiscounts } from '../discounts/invoice-discounts';

function create(req: ApiRequest): Stripe.Invoice {
  const { emulator, input } = req;
  learnOrigin(emulator, req.headers.host);
  const customer = requireCustomer(emulator, input.reqStr('customer'));
  const subscriptionId = input.str('subscription');
  const subscription = subscriptionId
    ? emulator.store.require(COLLECTIONS.subscription, subscriptionId, 'subscription')
    : null;
  const at = now(emulator, customer.id);
  const pending = input.oneOf('pending_invoice_items_behavior', ['exclude', 'include'] as const) ?? 'exclude';
  const collection =
    input.oneOf('collection_method', ['charge_automatically', 'send_invoice'] as const) ??
    'charge_automatically';
  const paymentMethod = input.str('default_payment_method');
  const invoice = createInvoice(
    emulator,
    {
      customer,
      subscription,
      billingReason: 'manual',
      currency: input.str('currency') ?? subscription?.currency ?? customer.currency ?? 'usd',
      created: at,
      periodStart: at,
      periodEnd: at,
      collectionMethod: collection,
      daysUntilDue: input.int('days_until_due') ?? null,
      defaultPaymentMethod: paymentMethod
        ? resolvePaymentMethod(emulator, paymentMethod, 'default_payment_method').id
        : null,
      description: input.str('description') ?? null,
      metadata: input.metadata({}),
      // Stripe: auto_advance defaults to false for invoices created through the API.
      autoAdvance: input.bool('auto_advance') ?? false,
      ...readInvoiceTax(emulator, input, subscription),
    },
    [],
    pending === 'include' ? (subscription ? { subscription: subscription.id } : 'include') : 'exclude',
  );
  return invoice;
}

/** `automatic_tax[enabled]` and `default_tax_rates[]` (not both), defaulting to the subscription's. */
function readInvoiceTax(
  emulator: Emulator,
  input: ParamReader,
  subscription: Stripe.Subscription | null,
): { automaticTax?: boolean; defaultTaxRates?: Stripe.TaxRate[] } {
  const automaticTax = readAutomaticTax(input);
  const defaultTaxRates = readDefaultTaxRates(emulator, input);
  refuseMixedTax(
    automaticTax ?? subscription?.automatic_tax.enabled ?? false,
    defaultTaxRates ?? subscription?.default_tax_rates ?? [],
  );
  return { automaticTax, defaultTaxRates };
}

function update(req: ApiRequest): Stripe.Invoice {
  const { emulator, input } = req;
  const invoice = requireInvoice(emulator, req.pathParams.id);
  const before = structuredClone(invoice);
  if (input.has('metadata')) invoice.metadata = input.metadata(invoice.metadata ?? {});
  const draftOnly = [
    'description',
    'default_payment_method',
    'collection_method',
    'days_until_due',
    'auto_advance',
  ];
  if (
    invoice.status !== 'draft' &&
    draftOnly.some((k) => input.has(k) && k !== 'description' && k !== 'auto_advance')
  ) {
    throw invalidRequest(
      'You can only update these fields on a draft invoice.',
      undefined,
      'invoice_not_editable',
    );
  }
  if (input.has('description')) invoice.description = input.strOrNull('description') ?? null;
  if (input.has('auto_advance')) invoice.auto_advance = input.bool('auto_advance') ?? invoice.auto_advance;
  if (input.has('default_payment_method')) {
    const v = input.strOrNull('default_payment_method');
    invoice.default_payment_method = v
      ? resolvePaymentMethod(emulator, v, 'default_payment_method').id
      : null;
  }
  emulator.store.put(COLLECTIONS.invoice, invoice);
  const prev = previousAttributes(before, invoice);
  if (Object.keys(prev).length > 0) emit(emulator, 'invoice.updated', invoice, prev);
  return invoice;
}

function list(req: ApiRequest): unknown {
  const { emulator, input } = req;
  const customer = input.str('customer');
  const subscription = input.str('subscription');
  const status = input.str('status');
  const created = input.range('created');
  const items = emulator.store
    .all(COLLECTIONS.invoice)
    .filter(
      (invoice) =>
        (!customer || customerIdOf(invoice) === customer) &&
        (!subscription || subscriptionIdOfInvoice(invoice) === subscription) &&
        (!status || invoice.status === status) &&
        (!created || created(invoice.created)),
    );
  return paginate(items, input, req.path);
}

function remove(req: ApiRequest): unknown {
  const { emulator } = req;
  const invoice = requireInvoice(emulator, req.pathParams.id);
  if (invoice.status !== 'draft') {
    throw invalidRequest('You can only delete draft invoices.', undefined, 'invoice_not_editable');
  }
  for (const invoiceItem of emulator.store.all(COLLECTIONS.invoiceItem)) {
    if (invoiceItem.invoice === invoice.id) {
      invoiceItem.invoice = null;
      emulator.store.put(COLLECTIONS.invoiceItem, invoiceItem);
    }
  }
  emulator.store.delete(COLLECTIONS.invoice, invoice.id);
  emit(emulator, 'invoice.deleted', invoice);
  return { id: invoice.id, object: 'invoice', deleted: true };
}

function pay(req: ApiRequest): Stripe.Invoice {
  const { emulator, input } = req;
  const invoice = requireInvoice(emulator, req.pathParams.id);
  const paymentMethodParam = input.str('payment_method');
  let paymentMethod: string | null = null;
  if (paymentMethodParam) {
    const resolved = resolvePaymentMethod(emulator, paymentMethodParam, 'payment_method');
    if (!resolved.customer) attachPaymentMethod(emulator, resolved.id, customerIdOf(invoice));
    paymentMethod = resolved.id;
  }
  if (input.bool('paid_out_of_band')) {
    if (invoice.status === 'draft') finalizeInvoice(emulator, invoice);
    invoice.amount_paid = invoice.amount_due;
    invoice.amount_remaining = 0;
    invoice.status = 'paid';
    invoice.status_transitions.paid_at = now(emulator, customerIdOf(invoice));
    emulator.store.put(COLLECTIONS.invoice, invoice);
    emit(emulator, 'invoice.paid', invoice);
    setDelinquent(emulator, customerIdOf(invoice), false);
    return invoice;
  }
  return payOrThrow(emulator, invoice, paymentMethod);
}

function sendInvoice(req: ApiRequest): Stripe.Invoice {
  const { emulator } = req;
  const invoice = requireInvoice(emulator, req.pathParams.id);
  if (invoice.status === 'draft') finalizeInvoice(emulator, invoice);
  emit(emulator, 'invoice.sent', invoice);
  return invoice;
}

// --- invoice items ---------------------------------------------------------------------------

function createItem(req: ApiRequest): Stripe.InvoiceItem {
  const { emulator, input } = req;
  const customer = requireCustomer(emulator, input.reqStr('customer'));
  const at = now(emulator, customer.id);
  const pricing = input.obj('pricing');
  const priceId = pricing?.str('price') ?? input.str('price');
  const listed = priceId ? requirePrice(emulator, priceId, pricing ? 'pricing[price]' : 'price') : null;
  // A price with `currency_options` bills the item in the `currency` asked for, at that option's amount
  // (https://docs.stripe.com/products-prices/pricing-models#multicurrency: "specify the currency" on the invoice
  // item); 400 naming the price when it offers no such currency.
  const requestedCurrency = input.str('currency')?.toLowerCase();
  const price =
    listed && requestedCurrency
      ? priceInCurrency(listed, requestedCurrency, pricing ? 'pricing[price]' : 'price')
      : listed;
  const quantity = input.int('quantity') ?? 1;
  const amountParam = input.int('amount');
  const unit = input.int('unit_amount');
  let amount: number;
  if (price) amount = priceAmount(price, quantity);
  else if (amountParam !== undefined) amount = amountParam;
  else if (unit !== undefined) amount = unit * quantity;
  else throw invalidRequest('Missing required param: amount.', 'amount', 'parameter_missing');
  const currency = (price?.currency ?? input.str('currency') ?? customer.currency ?? '').toLowerCase();
  if (!currency) throw invalidRequest('Missing required param: currency.', 'currency', 'parameter_missing');
  const period = input.obj('period');
  const invoiceId = input.str('invoice') ?? null;
  const subscriptionId = input.str('subscription') ?? null;
  if (subscriptionId) emulator.store.require(COLLECTIONS.subscription, subscriptionId, 'subscription');
  const invoiceItem = createInvoiceItem(emulator, {
    customer: customer.id,
    amount,
    currency,
    description: input.str('description') ?? price?.nickname ?? null,
    period: period ? { start: period.reqInt('start'), end: period.reqInt('end') } : { start: at, end: at },
    price,
    quantity,
    proration: false,
    subscription: subscriptionId,
    subscriptionItem: null,
    invoice: invoiceId,
    metadata: input.metadata({}),
    testClock: idOf(customer.test_clock),
  });
  if (invoiceId) {
    const invoice = requireInvoice(emulator, invoiceId);
    if (invoice.status !== 'draft')
      throw invalidRequest('You can only add invoice items to draft invoices.', 'invoice');
    addItemToDraft(emulator, invoice, invoiceItem);
  }
  return invoiceItem;
}

function addItemToDraft(emulator: Emulator, invoice: Stripe.Invoice, invoiceItem: Stripe.InvoiceItem): void {
  invoice.lines.data.push(buildLine(invoice.id, invoiceItemLine(emulator, invoiceItem)));
  refreshInvoiceDiscounts(emulator, invoice);
  applyInvoiceTax(emulator, invoice);
  recomputeTotals(invoice, 0);
  emulator.store.put(COLLECTIONS.invoice, invoice);
}

function requireItem(emulator: Emulator, itemId: string): Stripe.InvoiceItem {
  return emulator.store.require(COLLECTIONS.invoiceItem, itemId, 'invoiceitem');
}

function updateItem(req: ApiRequest): Stripe.InvoiceItem {
  const { emulator, input } = req;
  const invoiceItem = requireItem(emulator, req.pathParams.id);
  if (invoiceItem.invoice) {
    const invoice = emulator.store.get(COLLECTIONS.invoice, idOf(invoiceItem.invoice) ?? '');
    if (invoice && invoice.status !== 'draft')
      throw invalidRequest('This invoice item is on a finalized invoice.', undefined, 'invoice_not_editable');
  }
  // No event: this API version has no `invoiceitem.updated`.
  const { obj } = emulator.store.update(COLLECTIONS.invoiceItem, invoiceItem.id, (x) => {
    if (input.has('metadata')) x.metadata = input.metadata(x.metadata ?? {});
    if (input.has('description')) x.description = input.strOrNull('description') ?? null;
    const amount = input.int('amount');
    if (amount !== undefined) {
      x.amount = amount;
      x.net_amount = amount;
    }
  });
  return obj;
}

function deleteItem(req: ApiRequest): unknown {
  const { emulator } = req;
  const invoiceItem = requireItem(emulator, req.pathParams.id);
  if (invoiceItem.invoice) {
    const invoice = emulator.store.get(COLLECTIONS.invoice, idOf(invoiceItem.invoice) ?? '');
    if (invoice && invoice.status !== 'draft')
      throw invalidRequest('This invoice item is on a finalized invoice.', undefined, 'invoice_not_editable');
    if (invoice) {
      invoice.lines.data = invoice.lines.data.filter(
        (l) => l.parent?.invoice_item_details?.invoice_item !== invoiceItem.id,
      );
      refreshInvoiceDiscounts(emulator, invoice);
      applyInvoiceTax(emulator, invoice);
      recomputeTotals(invoice, 0);
      emulator.store.put(COLLECTIONS.invoice, invoice);
    }
  }
  emulator.store.delete(COLLECTIONS.invoiceItem, invoiceItem.id);
  emit(emulator, 'invoiceitem.deleted', invoiceItem);
  return { id: invoiceItem.id, object: 'invoiceitem', deleted: true };
}

function listItems(req: ApiRequest): unknown {
  const { emulator, input } = req;
  const customer = input.str('customer');
  const invoice = input.str('invoice');
  const pendingOnly = input.bool('pending');
  const items = emulator.store
    .all(COLLECTIONS.invoiceItem)
    .filter(
      (invoiceItem) =>
        (!customer || customerIdOf(invoiceItem) === customer) &&
        (!invoice || invoiceItem.invoice === invoice) &&
        (pendingOnly === undefined || (invoiceItem.invoice === null) === pendingOnly),
    );
  return paginate(items, input, req.path);
}

export const routes: Route[] = [
  { method: 'POST', path: '/v1/invoices', handler: create, params: ACCEPTED.invoiceCreate },
  { method: 'GET', path: '/v1/invoices', handler: list, params: ACCEPTED.invoiceList },
  {
    method: 'POST',
    path: '/v1/invoices/create_preview',
    handler: createPreview,
    params: ACCEPTED.invoicePreview,
  },
  {
    method: 'GET',
    path: '/v1/invoices/search',
    handler: (req) => search(req.emulator.store.all(COLLECTIONS.invoice), req.input, req.path),
  },
  {
    method: 'GET',
    path: '/v1/invoices/:id',
    handler: (req) => requireInvoice(req.emulator, req.pathParams.id),
  },
  { method: 'POST', path: '/v1/invoices/:id', handler: update },
  { method: 'DELETE', path: '/v1/invoices/:id', handler: remove },
  {
    method: 'POST',
    path: '/v1/invoices/:id/finalize',
    handler: (req) => {
      learnOrigin(req.emulator, req.headers.host);
      const invoice = requireInvoice(req.emulator, req.pathParams.id);
      finalizeInvoice(req.emulator, invoice);
      return invoice;
    },
  },
  { method: 'POST', path: '/v1/invoices/:id/pay', handler: pay, params: ACCEPTED.invoicePay },
  {
    method: 'POST',
    path: '/v1/invoices/:id/void',
    handler: (req) => voidInvoice(req.emulator, requireInvoice(req.emulator, req.pathParams.id)),
  },
  {
    method: 'POST',
    path: '/v1/invoices/:id/mark_uncollectible',
    handler: (req) => markUncollectible(req.emulator, requireInvoice(req.emulator, req.pathParams.id)),
  },
  { method: 'POST', path: '/v1/invoices/:id/send', handler: sendInvoice },
  {
    method: 'GET',
    path: '/v1/invoices/:id/lines',
    handler: (req) =>
      paginate(requireInvoice(req.emulator, req.pathParams.id).lines.data, req.input, req.path),
  },
  { method: 'POST', path: '/v1/invoiceitems', handler: createItem, params: ACCEPTED.invoiceItemCreate },
  { method: 'GET', path: '/v1/invoiceitems', handler: listItems },
  {
    method: 'GET',
    path: '/v1/invoiceitems/:id',
    handler: (req) => requireItem(req.emulator, req.pathParams.id),
  },
  { method: 'POST', path: '/v1/invoiceitems/:id', handler: updateItem },
  { method: 'DELETE', path: '/v1/invoiceitems/:id', handler: deleteItem },
  {
    method: 'GET',
    path: '/v1/invoice_payments',
    // Filters as Stripe documents them: `invoice`, `status`, `payment[type]`, `payment[payment_intent]`
    // (https://docs.stripe.com/api/invoice-payment/list): the way, in this API version, from a payment intent
    // (or a charge's) back to the invoice it paid.
    handler: (req) => {
      const invoice = req.input.str('invoice');
      const status = req.input.str('status');
      const payment = req.input.obj('payment');
      const paymentType = payment?.str('type');
      const paymentIntent = payment?.str('payment_intent');
      const items = req.emulator.store
        .all(COLLECTIONS.invoicePayment)
        .filter(
          (x) =>
            (!invoice || idOf(x.invoice) === invoice) &&
            (!status || x.status === status) &&
            (!paymentType || x.payment.type === paymentType) &&
            (!paymentIntent || idOf(x.payment.payment_intent) === paymentIntent),
        );
      return paginate(items, req.input, req.path);
    },
  },
  {
    method: 'GET',
    path: '/v1/invoice_payments/:id',
    handler: (req) =>
      req.emulator.store.require(COLLECTIONS.invoicePayment, req.pathParams.id, 'invoice payment'),
  },
];
