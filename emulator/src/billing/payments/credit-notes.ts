/**
 * `/v1/credit_notes` (https://docs.stripe.com/api/credit_notes/create): adjusting a finalized invoice. A credit
 * note first reduces the invoice's `amount_remaining` (and `amount_due`), not below zero: its
 * `pre_payment_amount`. The excess is its `post_payment_amount`, made of any combination of a refund to the card
 * (`refund_amount`), a credit to the customer's balance (`credit_amount`, applied to the next invoice when it is
 * finalized) and a credit recorded outside Stripe (`out_of_band_amount`); those three must add up to the
 * post-payment amount exactly (required since API version 2019-12-03:
 * https://docs.stripe.com/changelog/2019-12-03/post-payment-credit-note-requirement). Each credit note raises
 * the invoice's `pre_payment_credit_notes_amount` and/or `post_payment_credit_notes_amount`; an invoice cannot be
 * credited beyond its total. Events: `credit_note.created` and the invoice's `invoice.updated`; a refund sends
 * `charge.refunded` and `refund.created` as `/v1/refunds` does.
 * `GET /v1/credit_notes/preview` computes the same credit note without storing anything or moving money.
 * Simplified: no taxes, discounts or shipping on credit notes; lines are `custom_line_item` (`unit_amount` ×
 * `quantity`) or `invoice_line_item` (`amount`, default the whole line); an open invoice credited down to zero stays
 * `open` with nothing due. The wording of the over-credit error is ours.
 * `POST /v1/credit_notes/:id/void` (https://docs.stripe.com/api/credit_notes/void: "Marks a credit note as void";
 * Stripe's reference: a credit note can be voided only while its invoice is open) gives the invoice back what the
 * note took off (`amount_due`, `amount_remaining`, `pre_payment_credit_notes_amount`), sets `status: void` and
 * `voided_at`, and emits `credit_note.voided` and `invoice.updated`. Simplified: a note that gave anything after
 * payment (a refund, a balance credit) cannot be voided here (400; wording ours).
 */
import type Stripe from 'stripe';
import { invalidRequest, missingParam } from '../../core/errors';
import type { ApiRequest, Route } from '../../core/http';
import { paginate } from '../../core/list';
import type { ParamReader } from '../../core/params';
import { type Emulator, emit, id, idOf, now } from '../context';
import { hostedUrl } from '../urls';
import { requireCharge } from './charges-routes';
import { addBalanceTransaction } from './customer-balance';
import { assertRefundable, issueRefund } from './refunds';
import { COLLECTIONS } from '../../core/collections';

const REASONS = ['duplicate', 'fraudulent', 'order_change', 'product_unsatisfactory'] as const;

/** What a credit note request amounts to, before anything is stored or moved. */
interface CreditNotePlan {
  invoice: Stripe.Invoice;
  lines: Stripe.CreditNoteLineItem[];
  total: number;
  prePayment: number;
  postPayment: number;
  refund: number;
  credit: number;
  outOfBand: number;
  reason: Stripe.CreditNote.Reason | null;
}

function requireInvoice(emulator: Emulator, invoiceId: string | undefined): Stripe.Invoice {
  if (!invoiceId) throw missingParam('invoice');
  const invoice = emulator.store.require(COLLECTIONS.invoice, invoiceId, 'invoice', 'invoice');
  if (invoice.status === 'draft' || invoice.status === 'void') {
    throw invalidRequest(
      `Invoice ${invoice.id} is ${invoice.status}: credit notes can only be issued for finalized invoices.`,
      'invoice',
    );
  }
  return invoice;
}

function creditNoteLine(
  invoice: Stripe.Invoice,
  reader: ParamReader,
  index: number,
): Stripe.CreditNoteLineItem {
  const type = reader.oneOf('type', ['custom_line_item', 'invoice_line_item'] as const);
  if (!type) throw missingParam(`lines[${index}][type]`);
  let amount: number;
  let description: string | null;
  let quantity: number | null = reader.int('quantity') ?? null;
  let unitAmount: number | null = null;
  let invoiceLineItem: string | undefined;
  if (type === 'custom_line_item') {
    unitAmount = reader.int('unit_amount') ?? null;
    if (unitAmount === null) throw missingParam(`lines[${index}][unit_amount]`);
    quantity = quantity ?? 1;
    amount = unitAmount * quantity;
    description = reader.str('description') ?? null;
    if (!description) throw missingParam(`lines[${index}][description]`);
  } else {
    invoiceLineItem = reader.str('invoice_line_item');
    const line = invoice.lines.data.find((candidate) => candidate.id === invoiceLineItem);
    if (!line)
      throw invalidRequest(
        `No such invoice line item: '${invoiceLineItem ?? ''}'`,
        `lines[${index}][invoice_line_item]`,
        'resource_missing',
      );
    amount = reader.int('amount') ?? line.amount;
    description = line.description;
  }
  if (amount <= 0) throw invalidRequest('Invalid positive integer', `lines[${index}][amount]`);
  return {
    id: id('cnli'),
    object: 'credit_note_line_item',
    amount,
    description,
    discount_amount: 0,
    discount_amounts: [],
    ...(invoiceLineItem ? { invoice_line_item: invoiceLineItem } : {}),
    livemode: false,
    metadata: {},
    pretax_credit_amounts: [],
    quantity,
    tax_rates: [],
    taxes: [],
    type,
    unit_amount: unitAmount,
    unit_amount_decimal: null,
  };
}

/** What may still be credited on the invoice: its total less every credit note issued on it. */
function creditable(invoice: Stripe.Invoice): number {
  return invoice.total - invoice.pre_payment_credit_notes_amount - invoice.post_payment_credit_notes_amount;
}

function planCreditNote(emulator: Emulator, input: ParamReader): CreditNotePlan {
  const invoice = requireInvoice(emulator, input.str('invoice'));
  const lines = (input.objArray('lines') ?? []).map((reader, index) =>
    creditNoteLine(invoice, reader, index),
  );
  const amount = input.int('amount');
  const fromLines = lines.reduce((sum, line) => sum + line.amount, 0);
  if (lines.length > 0 && amount !== undefined && amount !== fromLines)
    throw invalidRequest(`The amount (${amount}) must equal the sum of the lines (${fromLines}).`, 'amount');
  const total = lines.length > 0 ? fromLines : amount;
  if (total === undefined) throw missingParam('amount');
  if (total <= 0) throw invalidRequest('Invalid positive integer', 'amount');
  if (total > creditable(invoice)) {
    throw invalidRequest(
      `The credit note amount (${total}) is greater than the amount that can be credited on invoice ${invoice.id} (${creditable(invoice)}).`,
      'amount',
    );
  }
  const prePayment = Math.min(total, invoice.amount_remaining);
  const postPayment = total - prePayment;
  const refund = nonNegative(input, 'refund_amount');
  const credit = nonNegative(input, 'credit_amount');
  const outOfBand = nonNegative(input, 'out_of_band_amount');
  if (refund + credit + outOfBand !== postPayment) {
    throw invalidRequest(
      `The sum of credit_amount, refund_amount and out_of_band_amount (${refund + credit + outOfBand}) must equal the credit note's post_payment_amount (${postPayment}).`,
      postPayment === 0 ? 'refund_amount' : 'out_of_band_amount',
    );
  }
  return {
    invoice,
    lines,
    total,
    prePayment,
    postPayment,
    refund,
    credit,
    outOfBand,
    reason: input.oneOf('reason', REASONS) ?? null,
  };
}

function nonNegative(input: ParamReader, key: string): number {
  const value = input.int(key) ?? 0;
  if (value < 0) throw invalidRequest('Invalid non-negative integer', key);
  return value;
}

/** The charge that paid the invoice (its paid invoice payment's payment intent's latest charge). */
function chargeOfInvoice(emulator: Emulator, invoice: Stripe.Invoice): Stripe.Charge {
  const payment = emulator.store
    .all(COLLECTIONS.invoicePayment)
    .find((candidate) => idOf(candidate.invoice as string) === invoice.id && candidate.status === 'paid');
  const intentId = idOf(payment?.payment.payment_intent ?? null);
  const intent = intentId ? emulator.store.get(COLLECTIONS.paymentIntent, intentId) : undefined;
  const chargeId = idOf(intent?.latest_charge ?? null);
  if (!chargeId) {
    throw invalidRequest(
      `Invoice ${invoice.id} has no payment to refund: use credit_amount or out_of_band_amount.`,
      'refund_amount',
    );
  }
  return requireCharge(emulator, chargeId, 'refund_amount');
}

function creditNoteOf(
  emulator: Emulator,
  plan: CreditNotePlan,
  noteId: string,
  metadata: Stripe.Metadata,
  memo: string | null,
): Stripe.CreditNote {
  const { invoice } = plan;
  const customer = idOf(invoice.customer) as string;
  const count = emulator.store
    .all(COLLECTIONS.creditNote)
    .filter((note) => idOf(note.invoice) === invoice.id).length;
  return {
    id: noteId,
    object: 'credit_note',
    amount: plan.total,
    amount_shipping: 0,
    created: now(emulator, customer),
    currency: invoice.currency,
    customer,
    customer_account: null,
    customer_balance_transaction: null,
    discount_amount: 0,
    discount_amounts: [],
    effective_at: null,
    invoice: invoice.id as string,
    lines: { object: 'list', data: plan.lines, has_more: false, url: `/v1/credit_notes/${noteId}/lines` },
    livemode: false,
    memo,
    metadata,
    number: `${invoice.number ?? invoice.id}-CN-${String(count + 1).padStart(2, '0')}`,
    out_of_band_amount: plan.outOfBand > 0 ? plan.outOfBand : null,
    pdf: hostedUrl(emulator, `/credit_note/${noteId}/pdf`),
    post_payment_amount: plan.postPayment,
    pre_payment_amount: plan.prePayment,
    pretax_credit_amounts: [],
    reason: plan.reason,
    refunds: [],
    shipping_cost: null,
    status: 'issued',
    subtotal: plan.total,
    subtotal_excluding_tax: plan.total,
    total: plan.total,
    total_excluding_tax: plan.total,
    total_taxes: [],
    type: plan.prePayment === 0 ? 'post_payment' : plan.postPayment === 0 ? 'pre_payment' : 'mixed',
    voided_at: null,
  };
}

function createCreditNote({ emulator, input }: ApiRequest): Stripe.CreditNote {
  const plan = planCreditNote(emulator, input);
  const charge = plan.refund > 0 ? chargeOfInvoice(emulator, plan.invoice) : null;
  if (charge) {
    assertRefundable(emulator, charge);
    if (plan.refund > charge.amount - charge.amount_refunded)
      throw invalidRequest(
        `The refund_amount (${plan.refund}) is greater than the unrefunded amount of charge ${charge.id} (${charge.amount - charge.amount_refunded}).`,
        'refund_amount',
      );
  }
  const note = creditNoteOf(emulator, plan, id('cn'), input.metadata({}), input.str('memo') ?? null);
  if (charge) {
    const reason = plan.reason === 'duplicate' || plan.reason === 'fraudulent' ? plan.reason : null;
    const refund = issueRefund(emulator, charge, plan.refund, reason, {});
    note.refunds = [
      { amount_refunded: plan.refund, payment_record_refund: null, refund: refund.id, type: 'refund' },
    ];
  }
  if (plan.credit > 0) {
    note.customer_balance_transaction = addBalanceTransaction(emulator, {
      customerId: note.customer as string,
      amount: -plan.credit,
      currency: note.currency,
      type: 'credit_note',
      description: null,
      creditNote: note.id,
      invoice: plan.invoice.id as string,
    }).id;
  }
  emulator.store.insert(COLLECTIONS.creditNote, note);
  const { obj, previous } = emulator.store.update(
    COLLECTIONS.invoice,
    plan.invoice.id as string,
    (invoice) => {
      invoice.pre_payment_credit_notes_amount += plan.prePayment;
      invoice.post_payment_credit_notes_amount += plan.postPayment;
      invoice.amount_due -= plan.prePayment;
      invoice.amount_remaining -= plan.prePayment;
    },
  );
  emit(emulator, 'credit_note.created', note);
  emit(emulator, 'invoice.updated', obj, previous);
  return note;
}

function voidCreditNote({ emulator, pathParams }: ApiRequest): Stripe.CreditNote {
  const note = requireCreditNote(emulator, pathParams.id);
  const invoiceId = idOf(note.invoice) as string;
  const invoice = emulator.store.require(COLLECTIONS.invoice, invoiceId, 'invoice');
  if (note.status === 'void') throw invalidRequest(`Credit note ${note.id} is already void.`);
  if (invoice.status !== 'open' || note.post_payment_amount > 0) {
    throw invalidRequest(
      `Credit note ${note.id} cannot be voided: only a credit note of an open invoice that gave nothing back after payment can be.`,
    );
  }
  const { obj: voided, previous: notePrevious } = emulator.store.update(
    COLLECTIONS.creditNote,
    note.id,
    (stored) => {
      stored.status = 'void';
      stored.voided_at = now(emulator, idOf(stored.customer as string) ?? undefined);
    },
  );
  const { obj, previous } = emulator.store.update(COLLECTIONS.invoice, invoiceId, (stored) => {
    stored.pre_payment_credit_notes_amount -= note.pre_payment_amount;
    stored.amount_due += note.pre_payment_amount;
    stored.amount_remaining += note.pre_payment_amount;
  });
  emit(emulator, 'credit_note.voided', voided, notePrevious);
  emit(emulator, 'invoice.updated', obj, previous);
  return voided;
}

function previewCreditNote({ emulator, input }: ApiRequest): Stripe.CreditNote {
  return creditNoteOf(
    emulator,
    planCreditNote(emulator, input),
    id('cn'),
    input.metadata({}),
    input.str('memo') ?? null,
  );
}

function requireCreditNote(emulator: Emulator, noteId: string): Stripe.CreditNote {
  return emulator.store.require(COLLECTIONS.creditNote, noteId, 'credit_note');
}

const CREATE_PARAMS = [
  'invoice',
  'amount',
  'credit_amount',
  'effective_at',
  'email_type',
  'lines',
  'memo',
  'metadata',
  'out_of_band_amount',
  'reason',
  'refund_amount',
  'refunds',
  'shipping_cost',
];

export const routes: Route[] = [
  { method: 'POST', path: '/v1/credit_notes', params: CREATE_PARAMS, handler: createCreditNote },
  { method: 'GET', path: '/v1/credit_notes/preview', params: CREATE_PARAMS, handler: previewCreditNote },
  {
    method: 'GET',
    path: '/v1/credit_notes',
    params: ['customer', 'invoice', 'created', 'limit', 'starting_after', 'ending_before'],
    handler: (req) => {
      const customer = req.input.str('customer');
      const invoice = req.input.str('invoice');
      const items = req.emulator.store
        .all(COLLECTIONS.creditNote)
        .filter(
          (note) =>
            (!customer || idOf(note.customer as string) === customer) &&
            (!invoice || idOf(note.invoice) === invoice),
        );
      return paginate(items, req.input, req.path);
    },
  },
  {
    method: 'GET',
    path: '/v1/credit_notes/:id',
    params: [],
    handler: (req) => requireCreditNote(req.emulator, req.pathParams.id),
  },
  { method: 'POST', path: '/v1/credit_notes/:id/void', params: [], handler: voidCreditNote },
  {
    method: 'GET',
    path: '/v1/credit_notes/:id/lines',
    params: ['limit', 'starting_after', 'ending_before'],
    handler: (req) =>
      paginate(requireCreditNote(req.emulator, req.pathParams.id).lines.data, req.input, req.path),
  },
];
