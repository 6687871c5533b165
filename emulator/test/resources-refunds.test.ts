/**
 * Charges (read) and refunds through the SDK: full and partial refunds by payment intent or
 * charge, Stripe's refusals, the effect on the charge, the events, and the invoice a refund
 * leaves alone.
 */
import Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import { eventsOf, eventTypes, fixture } from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

/** A $20.00 card payment of a new customer, confirmed at once. */
async function paid(
  paymentMethod = 'pm_card_visa',
): Promise<{ intent: Stripe.PaymentIntent; charge: Stripe.Charge }> {
  const customer = await stripe.customers.create({ email: 'jenny@example.com' });
  const intent = await stripe.paymentIntents.create({
    amount: 2000,
    currency: 'usd',
    customer: customer.id,
    payment_method: paymentMethod,
    confirm: true,
  });
  const charge = await stripe.charges.retrieve(String(intent.latest_charge));
  return { intent, charge };
}

/** Every event, oldest first. */
async function allEvents(): Promise<Stripe.Event[]> {
  const events: Stripe.Event[] = [];
  for await (const e of stripe.events.list({ limit: 100 })) events.push(e);
  return events.reverse();
}

/** The Stripe error a promise rejects with (fails the test if it resolves). */
async function stripeError(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  const outcome = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(outcome instanceof Stripe.errors.StripeError))
    throw new Error(`expected a Stripe error, got ${String(outcome)}`);
  return outcome;
}

describe('charges', () => {
  test('are served by id and listed by customer and payment intent', async () => {
    const { intent, charge } = await paid();
    await paid();
    expect(charge).toMatchObject({
      object: 'charge',
      amount: 2000,
      amount_refunded: 0,
      refunded: false,
      disputed: false,
      status: 'succeeded',
      payment_intent: intent.id,
    });
    expect(charge).not.toHaveProperty('refunds');
    const byIntent = await stripe.charges.list({ payment_intent: intent.id });
    expect(byIntent.data.map((c) => c.id)).toEqual([charge.id]);
    const byCustomer = await stripe.charges.list({ customer: String(intent.customer) });
    expect(byCustomer.data.map((c) => c.id)).toEqual([charge.id]);
    expect((await stripe.charges.list()).data).toHaveLength(2);
    const missing = await stripeError(stripe.charges.retrieve('ch_nope'));
    expect(missing).toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
      message: "No such charge: 'ch_nope'",
    });
  });
});

describe('refunds', () => {
  test('a full refund of a payment intent refunds its charge, with charge.refunded and refund.created', async () => {
    const { intent, charge } = await paid();
    const refund = await stripe.refunds.create({ payment_intent: intent.id });
    expect(refund).toMatchObject({
      object: 'refund',
      amount: 2000,
      currency: 'usd',
      charge: charge.id,
      payment_intent: intent.id,
      customer: intent.customer,
      status: 'succeeded',
      reason: null,
      metadata: {},
    });
    const after = await stripe.charges.retrieve(charge.id, { expand: ['refunds'] });
    expect(after).toMatchObject({ amount_refunded: 2000, refunded: true });
    expect(after.refunds?.data.map((r) => r.id)).toEqual([refund.id]);
    expect(await stripe.refunds.retrieve(refund.id)).toEqual(refund);

    const [refunded] = await eventsOf(stripe, 'charge.refunded');
    expect(refunded.data.object).toMatchObject({ id: charge.id, amount_refunded: 2000, refunded: true });
    expect(refunded.data.previous_attributes).toEqual({ amount_refunded: 0, refunded: false });
    const [created] = await eventsOf(stripe, 'refund.created');
    expect(created.data.object).toMatchObject({ id: refund.id, amount: 2000 });
    const types = await eventTypes(stripe);
    expect(types.slice(-2)).toEqual(['charge.refunded', 'refund.created']);

    const again = await stripeError(stripe.refunds.create({ charge: charge.id }));
    expect(again).toMatchObject({
      statusCode: 400,
      type: 'StripeInvalidRequestError',
      code: 'charge_already_refunded',
      message: `Charge ${charge.id} has already been refunded.`,
    });
  });

  test('partial refunds by charge add up until nothing is left; more than is left is amount_too_large', async () => {
    const { intent, charge } = await paid();
    const tooMuch = await stripeError(stripe.refunds.create({ charge: charge.id, amount: 2500 }));
    expect(tooMuch).toMatchObject({
      statusCode: 400,
      code: 'amount_too_large',
      param: 'amount',
      message: 'Refund amount ($25.00) is greater than charge amount ($20.00)',
    });
    const first = await stripe.refunds.create({
      charge: charge.id,
      amount: 500,
      reason: 'requested_by_customer',
      metadata: { ticket: 'T-1' },
    });
    expect(first).toMatchObject({
      amount: 500,
      reason: 'requested_by_customer',
      metadata: { ticket: 'T-1' },
    });
    expect(await stripe.charges.retrieve(charge.id)).toMatchObject({ amount_refunded: 500, refunded: false });
    const [partial] = await eventsOf(stripe, 'charge.refunded');
    expect(partial.data.previous_attributes).toEqual({ amount_refunded: 0 });

    const overLeft = await stripeError(stripe.refunds.create({ charge: charge.id, amount: 1600 }));
    expect(overLeft).toMatchObject({
      code: 'amount_too_large',
      message: 'Refund amount ($16.00) is greater than unrefunded amount on charge ($15.00)',
    });
    const rest = await stripe.refunds.create({ payment_intent: intent.id });
    expect(rest.amount).toBe(1500);
    expect(await stripe.charges.retrieve(charge.id)).toMatchObject({ amount_refunded: 2000, refunded: true });

    const byCharge = await stripe.refunds.list({ charge: charge.id });
    expect(byCharge.data.map((r) => r.id)).toEqual([rest.id, first.id]);
    const byIntent = await stripe.refunds.list({ payment_intent: intent.id });
    expect(byIntent.data).toHaveLength(2);
    const other = await paid();
    await stripe.refunds.create({ charge: other.charge.id, amount: 100 });
    expect((await stripe.refunds.list({ charge: charge.id })).data).toHaveLength(2);
    expect((await stripe.refunds.list()).data).toHaveLength(3);
  });

  test('refusals: an unpaid intent, no charge named, an unknown reason', async () => {
    const customer = await stripe.customers.create({});
    const unpaid = await stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      customer: customer.id,
    });
    const notPaid = await stripeError(stripe.refunds.create({ payment_intent: unpaid.id }));
    expect(notPaid).toMatchObject({
      statusCode: 400,
      code: 'charge_not_refundable',
      param: 'payment_intent',
    });
    const declined = await stripeError(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_chargeDeclined',
        confirm: true,
      }),
    );
    expect(declined.code).toBe('card_declined');
    const failedIntent = declined.payment_intent;
    expect(failedIntent?.status).toBe('requires_payment_method');
    const failed = await stripeError(stripe.refunds.create({ payment_intent: String(failedIntent?.id) }));
    expect(failed.code).toBe('charge_not_refundable');

    const nothing = await stripeError(stripe.refunds.create({}));
    expect(nothing).toMatchObject({ code: 'parameter_missing', param: 'charge' });
    const { charge } = await paid();
    const badReason = await stripeError(stripe.refunds.create({ charge: charge.id, reason: 'changed_mind' }));
    expect(badReason).toMatchObject({ statusCode: 400, param: 'reason' });
    const missing = await stripeError(stripe.refunds.create({ payment_intent: 'pi_nope' }));
    expect(missing).toMatchObject({ statusCode: 404, message: "No such payment_intent: 'pi_nope'" });
    expect((await stripe.charges.retrieve(charge.id)).amount_refunded).toBe(0);
    expect(await eventsOf(stripe, 'refund.created')).toEqual([]);
  });

  test('a metadata update sends charge.refund.updated and refund.updated; nothing else can change', async () => {
    const { intent } = await paid();
    const refund = await stripe.refunds.create({ payment_intent: intent.id, metadata: { keep: 'yes' } });
    const updated = await stripe.refunds.update(refund.id, { metadata: { order_id: '6735' } });
    expect(updated.metadata).toEqual({ keep: 'yes', order_id: '6735' });
    for (const type of ['charge.refund.updated', 'refund.updated']) {
      const [event] = await eventsOf(stripe, type);
      expect(event.data.object).toMatchObject({ id: refund.id, metadata: { order_id: '6735' } });
      expect(event.data.previous_attributes).toEqual({ metadata: { order_id: null } });
    }
    const r = await emulator.raw('POST', `/v1/refunds/${refund.id}`, { body: 'amount=5' });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'parameter_unknown', param: 'amount' });
  });

  test("refunding an invoice's payment leaves the invoice and its invoice payment paid", async () => {
    const f = await fixture(emulator);
    const subscription = await stripe.subscriptions.create({
      customer: f.customer.id,
      items: [{ price: f.pro.id }],
    });
    const invoice = await stripe.invoices.retrieve(String(subscription.latest_invoice));
    expect(invoice.status).toBe('paid');
    const [payment] = (await stripe.invoicePayments.list({ invoice: invoice.id })).data;
    const intentId = String(payment.payment.payment_intent);
    const before = new Set((await allEvents()).map((e) => e.id));

    const refund = await stripe.refunds.create({ payment_intent: intentId, amount: 1000 });
    expect(refund.amount).toBe(1000);
    const after = await stripe.invoices.retrieve(invoice.id);
    expect(after).toMatchObject({ status: 'paid', amount_paid: 3000, amount_remaining: 0 });
    expect(await stripe.invoicePayments.retrieve(payment.id)).toMatchObject({
      status: 'paid',
      amount_paid: 3000,
    });
    const since = (await allEvents()).filter((e) => !before.has(e.id)).map((e) => e.type);
    expect(since).toEqual(['charge.refunded', 'refund.created']);
  });
});
