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
});
