/**
 * Credit notes and customer balance transactions through the SDK: a paid invoice refunded to the card or
 * credited to the balance (applied to the next invoice), the post-payment sum rule, the over-credit refusal, the
 * preview that moves nothing, a pre-payment credit on an open invoice (and its voiding), and the events.
 */
import Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

/** A customer with a card and a paid $30.00 invoice (one line). */
async function paidInvoice(): Promise<{ customer: Stripe.Customer; invoice: Stripe.Invoice }> {
  const customer = await stripe.customers.create({
    email: 'jenny@example.com',
    payment_method: 'pm_card_visa',
    invoice_settings: { default_payment_method: 'pm_card_visa' },
  });
  await stripe.invoiceItems.create({
    customer: customer.id,
    amount: 3000,
    currency: 'usd',
    description: 'Seats',
  });
  const draft = await stripe.invoices.create({
    customer: customer.id,
    pending_invoice_items_behavior: 'include',
  });
  await stripe.invoices.finalizeInvoice(draft.id as string);
  const invoice = await stripe.invoices.pay(draft.id as string);
  expect(invoice).toMatchObject({ status: 'paid', amount_paid: 3000 });
  return { customer, invoice };
}

async function stripeError(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  const outcome = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(outcome instanceof Stripe.errors.StripeError))
    throw new Error(`expected a Stripe error, got ${String(outcome)}`);
  return outcome;
}

async function chargeOf(invoiceId: string): Promise<Stripe.Charge> {
  const [payment] = (await stripe.invoicePayments.list({ invoice: invoiceId })).data;
  const intent = await stripe.paymentIntents.retrieve(String(payment.payment.payment_intent));
  return stripe.charges.retrieve(String(intent.latest_charge));
}

describe('credit notes', () => {
  test('refund_amount refunds the card: a refund linked to the note, the invoice’s post-payment credit', async () => {
    const { invoice } = await paidInvoice();
    const note = await stripe.creditNotes.create({
      invoice: invoice.id as string,
      amount: 1200,
      refund_amount: 1200,
      reason: 'duplicate',
    });
    expect(note).toMatchObject({
      object: 'credit_note',
      amount: 1200,
      total: 1200,
      pre_payment_amount: 0,
      post_payment_amount: 1200,
      type: 'post_payment',
      status: 'issued',
      out_of_band_amount: null,
      customer_balance_transaction: null,
      number: `${invoice.number}-CN-01`,
    });
    expect(note.refunds).toEqual([expect.objectContaining({ amount_refunded: 1200, type: 'refund' })]);
    const refund = await stripe.refunds.retrieve(String(note.refunds[0].refund));
    expect(refund).toMatchObject({ amount: 1200, reason: 'duplicate', status: 'succeeded' });
    expect((await chargeOf(invoice.id as string)).amount_refunded).toBe(1200);
    expect(await stripe.invoices.retrieve(invoice.id as string)).toMatchObject({
      status: 'paid',
      post_payment_credit_notes_amount: 1200,
      pre_payment_credit_notes_amount: 0,
      amount_paid: 3000,
    });
    expect((await stripe.creditNotes.list({ invoice: invoice.id as string })).data.map((n) => n.id)).toEqual([
      note.id,
    ]);
    expect((await stripe.creditNotes.listLineItems(note.id)).data).toEqual([]);
    const types = (await stripe.events.list({ limit: 10 })).data.map((event) => event.type);
    expect(types).toEqual(
      expect.arrayContaining(['credit_note.created', 'charge.refunded', 'refund.created', 'invoice.updated']),
    );
  });

  test('credit_amount credits the balance (a credit_note transaction), which the next invoice uses', async () => {
    const { customer, invoice } = await paidInvoice();
    const note = await stripe.creditNotes.create({
      invoice: invoice.id as string,
      amount: 500,
      credit_amount: 500,
    });
    const transactions = await stripe.customers.listBalanceTransactions(customer.id);
    expect(transactions.data).toEqual([
      expect.objectContaining({
        id: note.customer_balance_transaction,
        type: 'credit_note',
        amount: -500,
        ending_balance: -500,
        credit_note: note.id,
        invoice: invoice.id,
      }),
    ]);
    expect((await stripe.customers.retrieve(customer.id)) as Stripe.Customer).toMatchObject({
      balance: -500,
    });
    expect((await chargeOf(invoice.id as string)).amount_refunded).toBe(0);
    // The next invoice: $30.00 less the $5.00 credit.
    await stripe.invoiceItems.create({
      customer: customer.id,
      amount: 3000,
      currency: 'usd',
      description: 'Seats',
    });
    const next = await stripe.invoices.create({
      customer: customer.id,
      pending_invoice_items_behavior: 'include',
    });
    const finalized = await stripe.invoices.finalizeInvoice(next.id as string);
    expect(finalized).toMatchObject({ total: 3000, amount_due: 2500, starting_balance: -500 });
  });

  test('the post-payment parts must add up, and nothing beyond the invoice total can be credited', async () => {
    const { invoice } = await paidInvoice();
    const unbalanced = await stripeError(
      stripe.creditNotes.create({ invoice: invoice.id as string, amount: 1000, refund_amount: 400 }),
    );
    expect(unbalanced).toMatchObject({ type: 'StripeInvalidRequestError', param: 'out_of_band_amount' });
    expect(unbalanced.message).toMatch(/must equal the credit note's post_payment_amount/);
    await stripe.creditNotes.create({
      invoice: invoice.id as string,
      amount: 2000,
      refund_amount: 1000,
      out_of_band_amount: 1000,
    });
    const tooMuch = await stripeError(
      stripe.creditNotes.create({ invoice: invoice.id as string, amount: 1001, credit_amount: 1001 }),
    );
    expect(tooMuch).toMatchObject({ param: 'amount' });
    // Nothing moved for the refused ones: one note, $10.00 refunded.
    expect((await stripe.creditNotes.list({ invoice: invoice.id as string })).data).toHaveLength(1);
    expect((await chargeOf(invoice.id as string)).amount_refunded).toBe(1000);
  });

  test('preview computes the note without storing it or moving money; lines add up', async () => {
    const { invoice } = await paidInvoice();
    const preview = await stripe.creditNotes.preview({
      invoice: invoice.id as string,
      lines: [{ type: 'custom_line_item', unit_amount: 250, quantity: 2, description: 'Goodwill' }],
      refund_amount: 500,
    });
    expect(preview).toMatchObject({ amount: 500, post_payment_amount: 500, refunds: [] });
    expect(preview.lines.data).toEqual([
      expect.objectContaining({ type: 'custom_line_item', amount: 500, quantity: 2, unit_amount: 250 }),
    ]);
    expect((await stripe.creditNotes.list({ invoice: invoice.id as string })).data).toEqual([]);
    expect((await chargeOf(invoice.id as string)).amount_refunded).toBe(0);
  });

  test('on an open invoice a credit note reduces what is due first (pre-payment)', async () => {
    const customer = await stripe.customers.create({ email: 'open@example.com' });
    await stripe.invoiceItems.create({
      customer: customer.id,
      amount: 3000,
      currency: 'usd',
      description: 'Seats',
    });
    const draft = await stripe.invoices.create({
      customer: customer.id,
      collection_method: 'send_invoice',
      days_until_due: 30,
      pending_invoice_items_behavior: 'include',
    });
    const open = await stripe.invoices.finalizeInvoice(draft.id as string);
    const note = await stripe.creditNotes.create({ invoice: open.id as string, amount: 1000 });
    expect(note).toMatchObject({ pre_payment_amount: 1000, post_payment_amount: 0, type: 'pre_payment' });
    expect(await stripe.invoices.retrieve(open.id as string)).toMatchObject({
      status: 'open',
      amount_due: 2000,
      amount_remaining: 2000,
      pre_payment_credit_notes_amount: 1000,
    });

    // Voided while the invoice is open: the invoice owes the whole amount again.
    const voided = await stripe.creditNotes.voidCreditNote(note.id);
    expect(voided).toMatchObject({ id: note.id, status: 'void' });
    expect(voided.voided_at).toEqual(expect.any(Number));
    expect(await stripe.invoices.retrieve(open.id as string)).toMatchObject({
      status: 'open',
      amount_due: 3000,
      amount_remaining: 3000,
      pre_payment_credit_notes_amount: 0,
    });
    const [event] = (await stripe.events.list({ type: 'credit_note.voided' })).data;
    expect(event?.data.object).toMatchObject({ id: note.id, status: 'void' });
    expect(event?.data.previous_attributes).toMatchObject({ status: 'issued', voided_at: null });
    expect(await stripeError(stripe.creditNotes.voidCreditNote(note.id))).toMatchObject({ statusCode: 400 });
  });

  test('a credit note of a paid invoice (it gave money back) is not voided', async () => {
    const { invoice } = await paidInvoice();
    const note = await stripe.creditNotes.create({
      invoice: invoice.id as string,
      amount: 500,
      credit_amount: 500,
    });
    expect(await stripeError(stripe.creditNotes.voidCreditNote(note.id))).toMatchObject({ statusCode: 400 });
    expect((await stripe.creditNotes.retrieve(note.id)).status).toBe('issued');
  });

  test('a draft invoice cannot be credited; an unknown one is resource_missing', async () => {
    const customer = await stripe.customers.create({ email: 'draft@example.com' });
    await stripe.invoiceItems.create({ customer: customer.id, amount: 3000, currency: 'usd' });
    const draft = await stripe.invoices.create({
      customer: customer.id,
      pending_invoice_items_behavior: 'include',
    });
    expect(
      await stripeError(stripe.creditNotes.create({ invoice: draft.id as string, amount: 100 })),
    ).toMatchObject({ param: 'invoice' });
    expect(
      await stripeError(stripe.creditNotes.create({ invoice: 'in_missing', amount: 100 })),
    ).toMatchObject({ code: 'resource_missing' });
  });
});

describe('customer balance transactions', () => {
  test('an adjustment moves the balance, is listed and retrieved under its customer only', async () => {
    const customer = await stripe.customers.create({ email: 'balance@example.com' });
    const other = await stripe.customers.create({ email: 'other@example.com' });
    const credit = await stripe.customers.createBalanceTransaction(customer.id, {
      amount: -700,
      currency: 'usd',
      description: 'Apology',
    });
    expect(credit).toMatchObject({
      type: 'adjustment',
      amount: -700,
      ending_balance: -700,
      description: 'Apology',
    });
    await stripe.customers.createBalanceTransaction(customer.id, { amount: 200, currency: 'usd' });
    expect(((await stripe.customers.retrieve(customer.id)) as Stripe.Customer).balance).toBe(-500);
    expect((await stripe.customers.listBalanceTransactions(customer.id)).data.map((t) => t.amount)).toEqual([
      200, -700,
    ]);
    expect((await stripe.customers.retrieveBalanceTransaction(customer.id, credit.id)).id).toBe(credit.id);
    expect(await stripeError(stripe.customers.retrieveBalanceTransaction(other.id, credit.id))).toMatchObject(
      { code: 'resource_missing' },
    );
    expect(emulator.url).toMatch(/^http/);
  });
});
