/**
 * Disputes through the SDK: Stripe's dispute test cards open one after the payment, evidence is
 * staged or submitted, the test-mode outcomes, accepting (closing) a dispute, and inquiries.
 */
import Stripe from 'stripe';
import { eventsOf, fixture } from './billing-helpers';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

/** A $50.00 payment with `pm` and the dispute the card's issuer opened on it. */
async function disputedPayment(
  paymentMethod: string,
): Promise<{ intent: Stripe.PaymentIntent; dispute: Stripe.Dispute }> {
  const intent = await stripe.paymentIntents.create({
    amount: 5000,
    currency: 'usd',
    payment_method: paymentMethod,
    confirm: true,
  });
  expect(intent.status).toBe('succeeded');
  const disputes = await stripe.disputes.list({ payment_intent: intent.id });
  expect(disputes.data).toHaveLength(1);
  return { intent, dispute: disputes.data[0] };
}

/** Every event, oldest first. */
async function allEvents(): Promise<Stripe.Event[]> {
  const events: Stripe.Event[] = [];
  for await (const e of stripe.events.list({ limit: 100 })) events.push(e);
  return events.reverse();
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

test('pm_card_createDispute: the charge succeeds, then a fraudulent chargeback needs a response', async () => {
  const { intent, dispute } = await disputedPayment('pm_card_createDispute');
  const chargeId = String(intent.latest_charge);
  expect(dispute).toMatchObject({
    object: 'dispute',
    amount: 5000,
    currency: 'usd',
    charge: chargeId,
    payment_intent: intent.id,
    reason: 'fraudulent',
    status: 'needs_response',
    is_charge_refundable: false,
    balance_transactions: [],
    evidence: { uncategorized_text: null, customer_name: null },
    evidence_details: { has_evidence: false, past_due: false, submission_count: 0 },
    payment_method_details: { type: 'card', card: { brand: 'visa', case_type: 'chargeback' } },
  });
  // Stripe's example dispute: due at the end of the UTC day 19 days later.
  const dueBy = dispute.evidence_details.due_by ?? 0;
  expect(dueBy - dispute.created).toBeGreaterThan(19 * 86_400 - 86_400);
  expect((dueBy + 1) % 86_400).toBe(0);
  expect(await stripe.disputes.retrieve(dispute.id)).toEqual(dispute);
  expect((await stripe.charges.retrieve(chargeId)).disputed).toBe(true);

  const types = (await allEvents()).map((e) => e.type);
  expect(types.slice(-4)).toEqual([
    'charge.succeeded',
    'payment_intent.succeeded',
    'charge.dispute.created',
    'charge.dispute.funds_withdrawn',
  ]);
  const [created] = await eventsOf(stripe, 'charge.dispute.created');
  expect(created.data.object).toMatchObject({ id: dispute.id, status: 'needs_response' });
  // The issuer opened it, not the API request that paid.
  expect(created.request).toEqual({ id: null, idempotency_key: null });

  const refund = await stripeError(stripe.refunds.create({ payment_intent: intent.id }));
  expect(refund).toMatchObject({
    statusCode: 400,
    code: 'charge_disputed',
    message: `Charge ${chargeId} has been charged back; cannot issue a refund.`,
  });
  const missing = await stripeError(stripe.disputes.retrieve('du_nope'));
  expect(missing).toMatchObject({ statusCode: 404, message: "No such dispute: 'du_nope'" });
});

test('evidence is staged with submit=false, then submitted; metadata is stored', async () => {
  const { dispute } = await disputedPayment('pm_card_createDispute');
  const staged = await stripe.disputes.update(dispute.id, {
    evidence: { customer_name: 'Jenny Rosen', product_description: 'Pro plan, one month' },
    metadata: { case: '42' },
    submit: false,
  });
  expect(staged).toMatchObject({
    status: 'needs_response',
    metadata: { case: '42' },
    evidence: { customer_name: 'Jenny Rosen', product_description: 'Pro plan, one month' },
    evidence_details: { has_evidence: true, submission_count: 0 },
  });
  const [staging] = await eventsOf(stripe, 'charge.dispute.updated');
  expect(staging.data.previous_attributes).toMatchObject({
    metadata: { case: null },
    evidence: { customer_name: null },
  });

  const submitted = await stripe.disputes.update(dispute.id, {
    evidence: { uncategorized_text: 'Logs attached.' },
  });
  expect(submitted).toMatchObject({
    status: 'under_review',
    evidence: { customer_name: 'Jenny Rosen', uncategorized_text: 'Logs attached.' },
    evidence_details: { has_evidence: true, submission_count: 1, submission_method: 'manual' },
  });
  expect(await eventsOf(stripe, 'charge.dispute.updated')).toHaveLength(2);
  expect(await eventsOf(stripe, 'charge.dispute.closed')).toEqual([]);
  const late = await stripeError(stripe.disputes.update(dispute.id, { evidence: { customer_name: 'J' } }));
  expect(late).toMatchObject({ statusCode: 400, param: 'evidence' });
});

test('test-mode outcomes: winning_evidence wins (funds reinstated), losing_evidence loses', async () => {
  const won = (await disputedPayment('pm_card_createDispute')).dispute;
  const afterWin = await stripe.disputes.update(won.id, {
    evidence: { uncategorized_text: 'winning_evidence' },
  });
  expect(afterWin.status).toBe('under_review');
  expect((await stripe.disputes.retrieve(won.id)).status).toBe('won');
  const [closedWon] = await eventsOf(stripe, 'charge.dispute.closed');
  expect(closedWon.data.object).toMatchObject({ id: won.id, status: 'won' });
  expect(closedWon.data.previous_attributes).toEqual({ status: 'under_review' });
  expect((await eventsOf(stripe, 'charge.dispute.funds_reinstated')).map((e) => e.data.object)).toMatchObject(
    [{ id: won.id }],
  );

  const lost = (await disputedPayment('pm_card_createDisputeProductNotReceived')).dispute;
  expect(lost.reason).toBe('product_not_received');
  await stripe.disputes.update(lost.id, { evidence: { uncategorized_text: 'losing_evidence' } });
  expect((await stripe.disputes.retrieve(lost.id)).status).toBe('lost');
  expect(await eventsOf(stripe, 'charge.dispute.funds_reinstated')).toHaveLength(1);
});

test('closing accepts the dispute: needs_response becomes lost, once', async () => {
  const { dispute } = await disputedPayment('pm_card_createDispute');
  const closed = await stripe.disputes.close(dispute.id);
  expect(closed.status).toBe('lost');
  const [event] = await eventsOf(stripe, 'charge.dispute.closed');
  expect(event.data.previous_attributes).toEqual({ status: 'needs_response' });
  const again = await stripeError(stripe.disputes.close(dispute.id));
  expect(again.statusCode).toBe(400);
  const evidence = await stripeError(
    stripe.disputes.update(dispute.id, { evidence: { customer_name: 'J' } }),
  );
  expect(evidence.statusCode).toBe(400);
  // Metadata can still be kept on a closed dispute.
  expect((await stripe.disputes.update(dispute.id, { metadata: { note: 'accepted' } })).metadata).toEqual({
    note: 'accepted',
  });
});

test('an inquiry (pm_card_createDisputeInquiry) withdraws nothing, leaves the charge refundable and closes as warning_closed', async () => {
  const { intent, dispute } = await disputedPayment('pm_card_createDisputeInquiry');
  expect(dispute).toMatchObject({
    status: 'warning_needs_response',
    is_charge_refundable: true,
    payment_method_details: { card: { case_type: 'inquiry' } },
  });
  expect(await eventsOf(stripe, 'charge.dispute.funds_withdrawn')).toEqual([]);
  const refund = await stripe.refunds.create({ payment_intent: intent.id, amount: 1000 });
  expect(refund.status).toBe('succeeded');
  expect((await stripe.disputes.close(dispute.id)).status).toBe('warning_closed');
});

test('a subscription paid with a dispute card is disputed after its invoice is paid', async () => {
  const f = await fixture(emulator, 'pm_card_createDisputeProductNotReceived');
  const subscription = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.pro.id }],
  });
  expect(subscription.status).toBe('active');
  const invoice = await stripe.invoices.retrieve(String(subscription.latest_invoice));
  const [payment] = (await stripe.invoicePayments.list({ invoice: invoice.id })).data;
  const [dispute] = (await stripe.disputes.list({ payment_intent: String(payment.payment.payment_intent) }))
    .data;
  expect(dispute).toMatchObject({ amount: 3000, reason: 'product_not_received', status: 'needs_response' });
  // Stamped at the test clock's time, like the charge.
  expect(dispute.created).toBe(f.clock.frozen_time);
  const types = (await allEvents()).map((e) => e.type);
  expect(types.indexOf('invoice.paid')).toBeLessThan(types.indexOf('charge.dispute.created'));
  expect((await stripe.invoices.retrieve(invoice.id)).status).toBe('paid');
  expect((await stripe.disputes.list({ charge: String(dispute.charge) })).data).toHaveLength(1);
  expect((await stripe.disputes.list({ charge: 'ch_other' })).data).toHaveLength(0);
});
