/**
 * `GET /v1/invoice_payments` filters (https://docs.stripe.com/api/invoice-payment/list): in this API version a
 * charge and its payment intent no longer name their invoice, so `payment[payment_intent]` is how an
 * integration finds the invoice a payment paid.
 */
import type Stripe from 'stripe';
import { fixture } from './billing-helpers';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

describe('GET /v1/invoice_payments', () => {
  it('filters by payment intent, payment type and status', async () => {
    const f = await fixture(emulator);
    const first = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
    });
    const second = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.pro.id }],
    });
    const invoiceOf = async (subscription: Stripe.Subscription) =>
      (await stripe.invoices.list({ subscription: subscription.id })).data[0];
    const [firstInvoice, secondInvoice] = [await invoiceOf(first), await invoiceOf(second)];
    const [firstPayment] = (await stripe.invoicePayments.list({ invoice: firstInvoice.id as string })).data;
    const paymentIntent = firstPayment.payment.payment_intent as string;
    expect(paymentIntent).toMatch(/^pi_/);

    const byIntent = await stripe.invoicePayments.list({
      payment: { type: 'payment_intent', payment_intent: paymentIntent },
    });
    expect(byIntent.data.map((payment) => payment.invoice)).toEqual([firstInvoice.id]);

    const paid = await stripe.invoicePayments.list({ status: 'paid', limit: 100 });
    expect(paid.data.map((payment) => payment.invoice).sort()).toEqual(
      [firstInvoice.id, secondInvoice.id].sort(),
    );
    expect((await stripe.invoicePayments.list({ status: 'open' })).data).toEqual([]);
    expect((await stripe.invoicePayments.list({ payment: { type: 'payment_record' } })).data).toEqual([]);
  });

  it('sends invoice_payment.paid with the InvoicePayment once it is paid; /v1/invoice_payments/:id retrieves it', async () => {
    const f = await fixture(emulator);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.basic.id }],
    });
    const invoiceId = subscription.latest_invoice as string;
    const [payment] = (await stripe.invoicePayments.list({ invoice: invoiceId })).data;
    const sent = (await stripe.events.list({ type: 'invoice_payment.paid', limit: 100 })).data.filter(
      (event) => (event.data.object as Stripe.InvoicePayment).invoice === invoiceId,
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]?.data.object).toMatchObject({
      id: payment?.id,
      object: 'invoice_payment',
      status: 'paid',
      amount_paid: (await stripe.invoices.retrieve(invoiceId)).amount_paid,
    });
    expect(await stripe.invoicePayments.retrieve(payment?.id as string)).toMatchObject({
      id: payment?.id,
      status: 'paid',
    });
    // An invoice paid out of band has no payment that was paid: nothing is sent for it.
    const item = await stripe.invoiceItems.create({ customer: f.customer.id, amount: 700, currency: 'usd' });
    const manual = await stripe.invoices.create({
      customer: f.customer.id,
      pending_invoice_items_behavior: 'include',
    });
    expect(item.id).toMatch(/^ii_/);
    await stripe.invoices.pay(manual.id as string, { paid_out_of_band: true });
    const forManual = (await stripe.events.list({ type: 'invoice_payment.paid', limit: 100 })).data.filter(
      (event) => (event.data.object as Stripe.InvoicePayment).invoice === manual.id,
    );
    expect(forManual).toEqual([]);
  });
});
