/**
 * `/v1/invoices`, `/v1/invoiceitems`, `/v1/invoice_payments`: parameter parsing and responses;
 * the life cycle lives in `invoices.ts`.
 */
import { ACCEPTED } from './accepted-params';
import type Stripe from 'stripe';
import { invalidRequest } from '../core/errors';
import type { ApiRequest, Route } from '../core/http';
import { paginate } from '../core/list';
import { previousAttributes } from '../core/store';
import { search } from '../core/search';
import { requireCustomer, requirePrice } from '../resources/common';
import { attachPaymentMethod, resolvePaymentMethod } from '../resources/payment-methods';
import { C, type Emulator, emit, idOf, now } from './ctx';
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
import { priceAmount } from './pricing';
import { learnOrigin } from './urls';

function create(req: ApiRequest): Stripe.Invoice {
  const { emu, p } = req;
  learnOrigin(emu, req.headers.host);
  const customer = requireCustomer(emu, p.reqStr('customer'));
  const subId = p.str('subscription');
  const sub = subId ? emu.store.require<Stripe.Subscription>(C.subscription, subId, 'subscription') : null;
  const at = now(emu, customer.id);
  const pending = p.oneOf('pending_invoice_items_behavior', ['exclude', 'include'] as const) ?? 'exclude';
  const collection =
    p.oneOf('collection_method', ['charge_automatically', 'send_invoice'] as const) ?? 'charge_automatically';
  const pm = p.str('default_payment_method');
  const inv = createInvoice(
    emu,
    {
      customer,
      subscription: sub,
      billingReason: 'manual',
      currency: p.str('currency') ?? sub?.currency ?? customer.currency ?? 'usd',
      created: at,
      periodStart: at,
      periodEnd: at,
      collectionMethod: collection,
      daysUntilDue: p.int('days_until_due') ?? null,
      defaultPaymentMethod: pm ? resolvePaymentMethod(emu, pm, 'default_payment_method').id : null,
      description: p.str('description') ?? null,
      metadata: p.metadata({}),
      // Stripe: auto_advance defaults to false for invoices created through the API.
      autoAdvance: p.bool('auto_advance') ?? false,
    },
    [],
    pending === 'include' ? (sub ? { subscription: sub.id } : 'include') : 'exclude',
  );
  return inv;
}

function update(req: ApiRequest): Stripe.Invoice {
  const { emu, p } = req;
  const inv = requireInvoice(emu, req.pathParams.id);
  const before = structuredClone(inv);
  if (p.has('metadata')) inv.metadata = p.metadata(inv.metadata ?? {});
  const draftOnly = [
    'description',
    'default_payment_method',
    'collection_method',
    'days_until_due',
    'auto_advance',
  ];
  if (
    inv.status !== 'draft' &&
    draftOnly.some((k) => p.has(k) && k !== 'description' && k !== 'auto_advance')
  ) {
    throw invalidRequest(
      'You can only update these fields on a draft invoice.',
      undefined,
      'invoice_not_editable',
    );
  }
  if (p.has('description')) inv.description = p.strOrNull('description') ?? null;
  if (p.has('auto_advance')) inv.auto_advance = p.bool('auto_advance') ?? inv.auto_advance;
  if (p.has('default_payment_method')) {
    const v = p.strOrNull('default_payment_method');
    inv.default_payment_method = v ? resolvePaymentMethod(emu, v, 'default_payment_method').id : null;
  }
  emu.store.put(C.invoice, inv);
  const prev = previousAttributes(before, inv);
  if (Object.keys(prev).length > 0) emit(emu, 'invoice.updated', inv, prev);
  return inv;
}

function list(req: ApiRequest): unknown {
  const { emu, p } = req;
  const customer = p.str('customer');
  const subscription = p.str('subscription');
  const status = p.str('status');
  const created = p.range('created');
  const items = emu.store
    .all<Stripe.Invoice>(C.invoice)
    .filter(
      (inv) =>
        (!customer || customerIdOf(inv) === customer) &&
        (!subscription || subscriptionIdOfInvoice(inv) === subscription) &&
        (!status || inv.status === status) &&
        (!created || created(inv.created)),
    );
  return paginate(items, p, req.path);
}

function remove(req: ApiRequest): unknown {
  const { emu } = req;
  const inv = requireInvoice(emu, req.pathParams.id);
  if (inv.status !== 'draft') {
    throw invalidRequest('You can only delete draft invoices.', undefined, 'invoice_not_editable');
  }
  for (const ii of emu.store.all<Stripe.InvoiceItem>(C.invoiceItem)) {
    if (ii.invoice === inv.id) {
      ii.invoice = null;
      emu.store.put(C.invoiceItem, ii);
    }
  }
  emu.store.delete(C.invoice, inv.id);
  emit(emu, 'invoice.deleted', inv);
  return { id: inv.id, object: 'invoice', deleted: true };
}

function pay(req: ApiRequest): Stripe.Invoice {
  const { emu, p } = req;
  const inv = requireInvoice(emu, req.pathParams.id);
  const pmParam = p.str('payment_method');
  let pm: string | null = null;
  if (pmParam) {
    const resolved = resolvePaymentMethod(emu, pmParam, 'payment_method');
    if (!resolved.customer) attachPaymentMethod(emu, resolved.id, customerIdOf(inv));
    pm = resolved.id;
  }
  if (p.bool('paid_out_of_band')) {
    if (inv.status === 'draft') finalizeInvoice(emu, inv);
    inv.amount_paid = inv.amount_due;
    inv.amount_remaining = 0;
    inv.status = 'paid';
    inv.status_transitions.paid_at = now(emu, customerIdOf(inv));
    emu.store.put(C.invoice, inv);
    emit(emu, 'invoice.paid', inv);
    setDelinquent(emu, customerIdOf(inv), false);
    return inv;
  }
  return payOrThrow(emu, inv, pm);
}

function sendInvoice(req: ApiRequest): Stripe.Invoice {
  const { emu } = req;
  const inv = requireInvoice(emu, req.pathParams.id);
  if (inv.status === 'draft') finalizeInvoice(emu, inv);
  emit(emu, 'invoice.sent', inv);
  return inv;
}

// --- invoice items ---------------------------------------------------------------------------

function createItem(req: ApiRequest): Stripe.InvoiceItem {
  const { emu, p } = req;
  const customer = requireCustomer(emu, p.reqStr('customer'));
  const at = now(emu, customer.id);
  const pricing = p.obj('pricing');
  const priceId = pricing?.str('price') ?? p.str('price');
  const price = priceId ? requirePrice(emu, priceId, pricing ? 'pricing[price]' : 'price') : null;
  const quantity = p.int('quantity') ?? 1;
  const amountParam = p.int('amount');
  const unit = p.int('unit_amount');
  let amount: number;
  if (price) amount = priceAmount(price, quantity);
  else if (amountParam !== undefined) amount = amountParam;
  else if (unit !== undefined) amount = unit * quantity;
  else throw invalidRequest('Missing required param: amount.', 'amount', 'parameter_missing');
  const currency = (price?.currency ?? p.str('currency') ?? customer.currency ?? '').toLowerCase();
  if (!currency) throw invalidRequest('Missing required param: currency.', 'currency', 'parameter_missing');
  const period = p.obj('period');
  const invoiceId = p.str('invoice') ?? null;
  const subId = p.str('subscription') ?? null;
  if (subId) emu.store.require<Stripe.Subscription>(C.subscription, subId, 'subscription');
  const ii = createInvoiceItem(emu, {
    customer: customer.id,
    amount,
    currency,
    description: p.str('description') ?? price?.nickname ?? null,
    period: period ? { start: period.reqInt('start'), end: period.reqInt('end') } : { start: at, end: at },
    price,
    quantity,
    proration: false,
    subscription: subId,
    subscriptionItem: null,
    invoice: invoiceId,
    metadata: p.metadata({}),
    testClock: idOf(customer.test_clock),
  });
  if (invoiceId) {
    const inv = requireInvoice(emu, invoiceId);
    if (inv.status !== 'draft')
      throw invalidRequest('You can only add invoice items to draft invoices.', 'invoice');
    addItemToDraft(emu, inv, ii);
  }
  return ii;
}

function addItemToDraft(emu: Emulator, inv: Stripe.Invoice, ii: Stripe.InvoiceItem): void {
  inv.lines.data.push(buildLine(inv.id, invoiceItemLine(emu, ii)));
  recomputeTotals(inv, 0);
  emu.store.put(C.invoice, inv);
}

function requireItem(emu: Emulator, itemId: string): Stripe.InvoiceItem {
  return emu.store.require<Stripe.InvoiceItem>(C.invoiceItem, itemId, 'invoiceitem');
}

function updateItem(req: ApiRequest): Stripe.InvoiceItem {
  const { emu, p } = req;
  const ii = requireItem(emu, req.pathParams.id);
  if (ii.invoice) {
    const inv = emu.store.get<Stripe.Invoice>(C.invoice, idOf(ii.invoice) ?? '');
    if (inv && inv.status !== 'draft')
      throw invalidRequest('This invoice item is on a finalized invoice.', undefined, 'invoice_not_editable');
  }
  // No event: this API version has no `invoiceitem.updated`.
  const { obj } = emu.store.update<Stripe.InvoiceItem>(C.invoiceItem, ii.id, (x) => {
    if (p.has('metadata')) x.metadata = p.metadata(x.metadata ?? {});
    if (p.has('description')) x.description = p.strOrNull('description') ?? null;
    const amount = p.int('amount');
    if (amount !== undefined) {
      x.amount = amount;
      x.net_amount = amount;
    }
  });
  return obj;
}

function deleteItem(req: ApiRequest): unknown {
  const { emu } = req;
  const ii = requireItem(emu, req.pathParams.id);
  if (ii.invoice) {
    const inv = emu.store.get<Stripe.Invoice>(C.invoice, idOf(ii.invoice) ?? '');
    if (inv && inv.status !== 'draft')
      throw invalidRequest('This invoice item is on a finalized invoice.', undefined, 'invoice_not_editable');
    if (inv) {
      inv.lines.data = inv.lines.data.filter((l) => l.parent?.invoice_item_details?.invoice_item !== ii.id);
      recomputeTotals(inv, 0);
      emu.store.put(C.invoice, inv);
    }
  }
  emu.store.delete(C.invoiceItem, ii.id);
  emit(emu, 'invoiceitem.deleted', ii);
  return { id: ii.id, object: 'invoiceitem', deleted: true };
}

function listItems(req: ApiRequest): unknown {
  const { emu, p } = req;
  const customer = p.str('customer');
  const invoice = p.str('invoice');
  const pendingOnly = p.bool('pending');
  const items = emu.store
    .all<Stripe.InvoiceItem>(C.invoiceItem)
    .filter(
      (ii) =>
        (!customer || customerIdOf(ii) === customer) &&
        (!invoice || ii.invoice === invoice) &&
        (pendingOnly === undefined || (ii.invoice === null) === pendingOnly),
    );
  return paginate(items, p, req.path);
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
    handler: (req) => search(req.emu.store.all<Stripe.Invoice>(C.invoice), req.p, req.path),
  },
  { method: 'GET', path: '/v1/invoices/:id', handler: (req) => requireInvoice(req.emu, req.pathParams.id) },
  { method: 'POST', path: '/v1/invoices/:id', handler: update },
  { method: 'DELETE', path: '/v1/invoices/:id', handler: remove },
  {
    method: 'POST',
    path: '/v1/invoices/:id/finalize',
    handler: (req) => {
      learnOrigin(req.emu, req.headers.host);
      const inv = requireInvoice(req.emu, req.pathParams.id);
      finalizeInvoice(req.emu, inv);
      return inv;
    },
  },
  { method: 'POST', path: '/v1/invoices/:id/pay', handler: pay, params: ACCEPTED.invoicePay },
  {
    method: 'POST',
    path: '/v1/invoices/:id/void',
    handler: (req) => voidInvoice(req.emu, requireInvoice(req.emu, req.pathParams.id)),
  },
  {
    method: 'POST',
    path: '/v1/invoices/:id/mark_uncollectible',
    handler: (req) => markUncollectible(req.emu, requireInvoice(req.emu, req.pathParams.id)),
  },
  { method: 'POST', path: '/v1/invoices/:id/send', handler: sendInvoice },
  {
    method: 'GET',
    path: '/v1/invoices/:id/lines',
    handler: (req) => paginate(requireInvoice(req.emu, req.pathParams.id).lines.data, req.p, req.path),
  },
  { method: 'POST', path: '/v1/invoiceitems', handler: createItem, params: ACCEPTED.invoiceItemCreate },
  { method: 'GET', path: '/v1/invoiceitems', handler: listItems },
  { method: 'GET', path: '/v1/invoiceitems/:id', handler: (req) => requireItem(req.emu, req.pathParams.id) },
  { method: 'POST', path: '/v1/invoiceitems/:id', handler: updateItem },
  { method: 'DELETE', path: '/v1/invoiceitems/:id', handler: deleteItem },
  {
    method: 'GET',
    path: '/v1/invoice_payments',
    handler: (req) => {
      const invoice = req.p.str('invoice');
      const items = req.emu.store
        .all<Stripe.InvoicePayment>(C.invoicePayment)
        .filter((x) => !invoice || idOf(x.invoice) === invoice);
      return paginate(items, req.p, req.path);
    },
  },
  {
    method: 'GET',
    path: '/v1/invoice_payments/:id',
    handler: (req) =>
      req.emu.store.require<Stripe.InvoicePayment>(C.invoicePayment, req.pathParams.id, 'invoice payment'),
  },
];
