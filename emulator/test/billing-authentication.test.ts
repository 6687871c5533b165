/**
 * 3-D Secure, as Stripe documents it:
 * - the authentication test cards (https://docs.stripe.com/testing#authentication-and-setup): …3184
 *   (`pm_card_authenticationRequired`) always asks, …3155 (`pm_card_authenticationRequiredOnSetup`) asks on-session
 *   only, …3178 (`pm_card_authenticationRequiredChargeDeclinedInsufficientFunds`) asks and is then declined;
 * - an intent that needs it is `requires_action` with `next_action.redirect_to_url` and `payment_intent.requires_action`
 *   (https://docs.stripe.com/payments/paymentintents/lifecycle); a failed challenge leaves `requires_payment_method`
 *   with `payment_intent_authentication_failure`;
 * - subscriptions: `error_if_incomplete` answers 402 `invoice_payment_intent_requires_action` and creates nothing;
 *   `allow_incomplete` leaves the subscription `incomplete` with `invoice.payment_failed` and
 *   `invoice.payment_action_required` (https://docs.stripe.com/billing/subscriptions/webhooks), expired after 23 hours
 *   unpaid (its invoice voided); a renewal that needs it makes the subscription past due.
 */
import type Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import { advanceClock, eventTypes, eventsOf, fixture, GRACE, T0 } from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

const FEB1 = Date.UTC(2026, 1, 1) / 1000;

async function intentOfInvoice(invoiceId: string): Promise<Stripe.PaymentIntent> {
  const invoice = await stripe.invoices.retrieve(invoiceId, { expand: ['payments'] });
  const paymentIntent = invoice.payments?.data[0]?.payment.payment_intent;
  return stripe.paymentIntents.retrieve(
    typeof paymentIntent === 'string' ? paymentIntent : String(paymentIntent?.id),
  );
}

async function authenticate(paymentIntentId: string, outcome: 'succeed' | 'fail'): Promise<void> {
  await emulator.control(`/_emulator/payment_intents/${paymentIntentId}/authenticate`, { outcome });
}

async function subscribe(
  f: Awaited<ReturnType<typeof fixture>>,
  behavior: 'allow_incomplete' | 'error_if_incomplete',
) {
  return stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.basic.id }],
    payment_behavior: behavior,
  });
}

it('maps the test ids of Stripe’s authentication cards to their numbers', async () => {
  const created = await Promise.all(
    [
      'pm_card_authenticationRequired',
      'pm_card_authenticationRequiredOnSetup',
      'pm_card_authenticationRequiredChargeDeclinedInsufficientFunds',
      'pm_card_threeDSecure2Required',
    ].map(async (id) => {
      const customer = await stripe.customers.create({ payment_method: id });
      return (await stripe.customers.listPaymentMethods(customer.id)).data[0]?.card?.last4;
    }),
  );
  expect(created).toEqual(['3184', '3155', '3178', '3220']);
});

it('an intent whose card asks waits in requires_action; approved it is charged, failed it needs another card', async () => {
  const customer = await stripe.customers.create({});
  const intent = await stripe.paymentIntents.create({ amount: 2000, currency: 'eur', customer: customer.id });
  const asked = await stripe.paymentIntents.confirm(intent.id, {
    payment_method: 'pm_card_authenticationRequired',
    return_url: 'https://app.example.com/billing',
  });
  expect(asked.status).toBe('requires_action');
  expect(asked.next_action).toEqual({
    type: 'redirect_to_url',
    redirect_to_url: {
      url: `${emulator.url}/authenticate/${intent.id}`,
      return_url: 'https://app.example.com/billing',
    },
  });
  expect(asked.latest_charge).toBeNull();
  expect(await eventsOf(stripe, 'payment_intent.requires_action')).toHaveLength(1);

  await authenticate(intent.id, 'fail');
  const failed = await stripe.paymentIntents.retrieve(intent.id);
  expect(failed).toMatchObject({ status: 'requires_payment_method', next_action: null });
  expect(failed.last_payment_error?.code).toBe('payment_intent_authentication_failure');
  expect((await stripe.charges.list({ customer: customer.id })).data).toHaveLength(0);

  await stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_authenticationRequired' });
  await authenticate(intent.id, 'succeed');
  const paid = await stripe.paymentIntents.retrieve(intent.id);
  expect(paid).toMatchObject({ status: 'succeeded', amount_received: 2000 });
  await expect(authenticate(intent.id, 'succeed')).rejects.toThrow(/requires action/);
});

it('…3178 asks, and once approved is declined for insufficient funds', async () => {
  const intent = await stripe.paymentIntents.create({
    amount: 500,
    currency: 'usd',
    payment_method: 'pm_card_authenticationRequiredChargeDeclinedInsufficientFunds',
    confirm: true,
  });
  expect(intent.status).toBe('requires_action');
  await authenticate(intent.id, 'succeed');
  const declined = await stripe.paymentIntents.retrieve(intent.id);
  expect(declined.status).toBe('requires_payment_method');
  expect(declined.last_payment_error).toMatchObject({
    code: 'card_declined',
    decline_code: 'insufficient_funds',
  });
});

it('…3155 asks on-session only: an off-session payment goes through', async () => {
  const customer = await stripe.customers.create({ payment_method: 'pm_card_authenticationRequiredOnSetup' });
  const card = (await stripe.customers.listPaymentMethods(customer.id)).data[0].id;
  const onSession = await stripe.paymentIntents.create({
    amount: 700,
    currency: 'usd',
    customer: customer.id,
    payment_method: card,
    confirm: true,
  });
  expect(onSession.status).toBe('requires_action');
  const offSession = await stripe.paymentIntents.create({
    amount: 700,
    currency: 'usd',
    customer: customer.id,
    payment_method: card,
    confirm: true,
    off_session: true,
  });
  expect(offSession.status).toBe('succeeded');
});

it('error_if_incomplete answers 402 invoice_payment_intent_requires_action and creates nothing', async () => {
  const f = await fixture(emulator, 'pm_card_authenticationRequired');
  await expect(subscribe(f, 'error_if_incomplete')).rejects.toMatchObject({
    statusCode: 402,
    code: 'invoice_payment_intent_requires_action',
  });
  expect((await stripe.subscriptions.list({ customer: f.customer.id, status: 'all' })).data).toHaveLength(0);
  expect((await stripe.invoices.list({ customer: f.customer.id })).data).toHaveLength(0);
});

it('allow_incomplete: incomplete until the customer approves, then active and paid', async () => {
  const f = await fixture(emulator, 'pm_card_authenticationRequired');
  const subscription = await subscribe(f, 'allow_incomplete');
  expect(subscription.status).toBe('incomplete');
  const invoiceId = String(subscription.latest_invoice);
  const intent = await intentOfInvoice(invoiceId);
  expect(intent.status).toBe('requires_action');
  expect(intent.next_action?.redirect_to_url?.url).toBe(`${emulator.url}/authenticate/${intent.id}`);
  const invoice = await stripe.invoices.retrieve(invoiceId);
  expect(invoice).toMatchObject({ status: 'open', attempt_count: 1, next_payment_attempt: null });
  expect(await eventTypes(stripe, (e) => e.type.startsWith('invoice.payment'))).toEqual([
    'invoice.payment_failed',
    'invoice.payment_action_required',
  ]);

  await authenticate(intent.id, 'succeed');
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('active');
  expect((await stripe.invoices.retrieve(invoiceId)).status).toBe('paid');
});

it('a failed challenge keeps the subscription incomplete; after 23 hours it expires and its invoice is voided', async () => {
  const f = await fixture(emulator, 'pm_card_authenticationRequired');
  const subscription = await subscribe(f, 'allow_incomplete');
  const intent = await intentOfInvoice(String(subscription.latest_invoice));
  await authenticate(intent.id, 'fail');
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('incomplete');
  expect((await stripe.invoices.retrieve(String(subscription.latest_invoice))).attempt_count).toBe(1);

  await advanceClock(stripe, f.clock.id, T0 + 23 * 3600 - 1);
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('incomplete');
  await advanceClock(stripe, f.clock.id, T0 + 23 * 3600);
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('incomplete_expired');
  expect((await stripe.invoices.retrieve(String(subscription.latest_invoice))).status).toBe('void');
  expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('canceled');
});

it('…3155: approved once at subscription, its renewals are charged off-session without asking', async () => {
  const f = await fixture(emulator, 'pm_card_authenticationRequiredOnSetup');
  const subscription = await subscribe(f, 'allow_incomplete');
  await authenticate((await intentOfInvoice(String(subscription.latest_invoice))).id, 'succeed');
  await advanceClock(stripe, f.clock.id, FEB1 + GRACE);
  const renewed = await stripe.subscriptions.retrieve(subscription.id);
  expect(renewed.status).toBe('active');
  expect((await stripe.invoices.retrieve(String(renewed.latest_invoice))).status).toBe('paid');
  expect(await eventsOf(stripe, 'invoice.payment_action_required')).toHaveLength(1);
});

it('a renewal that asks: past due with invoice.payment_action_required, paid on the hosted invoice page', async () => {
  const f = await fixture(emulator, 'pm_card_authenticationRequired');
  const subscription = await subscribe(f, 'allow_incomplete');
  await authenticate((await intentOfInvoice(String(subscription.latest_invoice))).id, 'succeed');
  await advanceClock(stripe, f.clock.id, FEB1 + GRACE);
  const pastDue = await stripe.subscriptions.retrieve(subscription.id);
  expect(pastDue.status).toBe('past_due');
  const renewal = await stripe.invoices.retrieve(String(pastDue.latest_invoice));
  expect(renewal).toMatchObject({ status: 'open', billing_reason: 'subscription_cycle', attempt_count: 1 });
  expect(renewal.next_payment_attempt).toBeGreaterThan(FEB1 + GRACE);
  const required = await eventsOf(stripe, 'invoice.payment_action_required');
  expect(required.map((e) => (e.data.object as Stripe.Invoice).id)).toEqual([
    String(subscription.latest_invoice),
    renewal.id,
  ]);

  // The customer opens the hosted invoice page, pays, is sent to the bank's challenge and approves.
  const page = await fetch(`${emulator.url}/invoice/${renewal.id}`).then((r) => r.text());
  expect(page).toContain('id="pay"');
  const toChallenge = await fetch(`${emulator.url}/invoice/${renewal.id}/pay`, {
    method: 'POST',
    redirect: 'manual',
  });
  expect(toChallenge.status).toBe(303);
  const intent = await intentOfInvoice(renewal.id);
  expect(toChallenge.headers.get('location')).toBe(`${emulator.url}/authenticate/${intent.id}`);
  expect(await fetch(String(toChallenge.headers.get('location'))).then((r) => r.text())).toContain(
    'id="complete"',
  );
  const back = await fetch(String(toChallenge.headers.get('location')), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'outcome=succeed',
    redirect: 'manual',
  });
  expect(back.headers.get('location')).toBe(
    `${emulator.url}/invoice/${renewal.id}?payment_intent=${intent.id}`,
  );
  expect((await stripe.invoices.retrieve(renewal.id)).status).toBe('paid');
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('active');
});

it('default_incomplete: the client confirms the invoice’s intent on-session and is asked', async () => {
  const f = await fixture(emulator, 'pm_card_visa');
  const subscription = await stripe.subscriptions.create({
    customer: f.customer.id,
    items: [{ price: f.pro.id }],
    payment_behavior: 'default_incomplete',
  });
  const intent = await intentOfInvoice(String(subscription.latest_invoice));
  const asked = await stripe.paymentIntents.confirm(intent.id, {
    payment_method: 'pm_card_authenticationRequired',
    return_url: 'https://app.example.com/done',
  });
  expect(asked.status).toBe('requires_action');
  await authenticate(intent.id, 'succeed');
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('active');
});
