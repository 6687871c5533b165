/**
 * One-time payments on a saved card, off session (what `purchaseCredits` and auto top-up do), through the real SDK:
 * `paymentIntents.create({ customer, amount, currency, payment_method, off_session: true, confirm: true, metadata },
 * { idempotencyKey })`:
 * - 4242 succeeds (`payment_intent.succeeded` with the metadata, a charge with its `receipt_url`,
 *   https://docs.stripe.com/receipts); a replayed idempotency key answers the same intent and charges once;
 * - 4000 0000 0000 9995 declines `insufficient_funds`: a `StripeCardError` carrying the intent
 *   (https://docs.stripe.com/api/errors);
 * - 4000 0027 6000 3184 (authentication on every payment, https://docs.stripe.com/testing#authentication-and-setup)
 *   off session is declined `authentication_required`, the intent `requires_payment_method`; confirmed again on
 *   session with a `return_url` it is `requires_action`, and once the customer completes the challenge it succeeds
 *   (https://stripe.com/docs/payments/payment-intents/off-session);
 * - a refund sends `charge.refunded` and `refund.created` that lead back to the intent and its metadata.
 */
import Stripe from 'stripe';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';
import { eventsOf } from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

const PACK = { credits: '5000', packKey: 'pack_5k', accountId: 'acct_42' };

/** A customer whose card (the test id `card`) is saved as their default. */
async function customerWithCard(card: string): Promise<{ customer: string; paymentMethod: string }> {
  const customer = await stripe.customers.create({
    email: 'team@example.com',
    payment_method: card,
    invoice_settings: { default_payment_method: card },
  });
  const paymentMethod = String(customer.invoice_settings.default_payment_method);
  return { customer: customer.id, paymentMethod };
}

function chargeOffSession(
  customer: string,
  paymentMethod: string,
  idempotencyKey: string,
  extra: Partial<Stripe.PaymentIntentCreateParams> = {},
): Promise<Stripe.Response<Stripe.PaymentIntent>> {
  return stripe.paymentIntents.create(
    {
      customer,
      amount: 2500,
      currency: 'usd',
      payment_method: paymentMethod,
      off_session: true,
      confirm: true,
      metadata: PACK,
      ...extra,
    },
    { idempotencyKey },
  );
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

it('4242 off session: succeeded, the event carries the metadata, the charge a receipt', async () => {
  const { customer, paymentMethod } = await customerWithCard('pm_card_visa');
  const intent = await chargeOffSession(customer, paymentMethod, 'purchase-1');
  expect(intent).toMatchObject({
    status: 'succeeded',
    amount_received: 2500,
    customer,
    payment_method: paymentMethod,
    metadata: PACK,
  });
  const [succeeded] = await eventsOf(stripe, 'payment_intent.succeeded');
  expect(succeeded.data.object).toMatchObject({ id: intent.id, metadata: PACK });
  expect(succeeded.request?.idempotency_key).toBe('purchase-1');
  const charge = await stripe.charges.retrieve(String(intent.latest_charge));
  expect(charge).toMatchObject({ status: 'succeeded', payment_intent: intent.id, metadata: PACK });
  expect(charge.receipt_url).toBe(`${emulator.url}/receipts/payment/${charge.id}`);
  expect((await fetch(String(charge.receipt_url))).status).toBe(200);
});

it('a replayed idempotency key answers the same intent and charges once; other parameters are refused', async () => {
  const { customer, paymentMethod } = await customerWithCard('pm_card_visa');
  const first = await chargeOffSession(customer, paymentMethod, 'topup-7');
  const again = await chargeOffSession(customer, paymentMethod, 'topup-7');
  expect(again.id).toBe(first.id);
  expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
  expect((await stripe.paymentIntents.list({ customer })).data).toHaveLength(1);
  expect((await stripe.charges.list({ customer })).data).toHaveLength(1);
  expect(await eventsOf(stripe, 'payment_intent.succeeded')).toHaveLength(1);

  const changed = await stripeError(chargeOffSession(customer, paymentMethod, 'topup-7', { amount: 9900 }));
  expect(changed).toMatchObject({ statusCode: 400, type: 'StripeIdempotencyError' });
  expect((await stripe.charges.list({ customer })).data).toHaveLength(1);
});

it('…9995 declines insufficient_funds: a StripeCardError carrying the intent; a replay declines the same intent', async () => {
  const { customer } = await customerWithCard('pm_card_visa');
  // Stripe's decline test cards cannot be attached (https://docs.stripe.com/testing#declined-payments): the
  // declining card is given to the intent directly.
  const declined = await stripeError(
    chargeOffSession(customer, 'pm_card_chargeDeclinedInsufficientFunds', 'topup-8'),
  );
  expect(declined).toMatchObject({
    type: 'StripeCardError',
    statusCode: 402,
    code: 'card_declined',
    decline_code: 'insufficient_funds',
  });
  const intent = declined.payment_intent;
  expect(intent).toMatchObject({
    status: 'requires_payment_method',
    metadata: PACK,
    last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds' },
  });
  const [failed] = await eventsOf(stripe, 'payment_intent.payment_failed');
  expect(failed.data.object).toMatchObject({ id: intent?.id, metadata: PACK });
  const [chargeFailed] = await eventsOf(stripe, 'charge.failed');
  expect(chargeFailed.data.object).toMatchObject({ payment_intent: intent?.id, receipt_url: null });

  const replay = await stripeError(
    chargeOffSession(customer, 'pm_card_chargeDeclinedInsufficientFunds', 'topup-8'),
  );
  expect(replay.payment_intent?.id).toBe(intent?.id);
  expect((await stripe.charges.list({ customer })).data).toHaveLength(1);
});

it('…3184 off session: authentication_required; on session with return_url: requires_action, then succeeded', async () => {
  const { customer, paymentMethod } = await customerWithCard('pm_card_authenticationRequired');
  const offSession = await stripeError(chargeOffSession(customer, paymentMethod, 'topup-9'));
  expect(offSession).toMatchObject({
    type: 'StripeCardError',
    statusCode: 402,
    code: 'authentication_required',
    decline_code: 'authentication_required',
  });
  const intentId = String(offSession.payment_intent?.id);
  expect(await stripe.paymentIntents.retrieve(intentId)).toMatchObject({
    status: 'requires_payment_method',
    next_action: null,
    last_payment_error: { code: 'authentication_required', decline_code: 'authentication_required' },
    payment_method: paymentMethod,
  });
  expect(
    (await eventsOf(stripe, 'payment_intent.payment_failed')).map(
      (e) => (e.data.object as Stripe.PaymentIntent).id,
    ),
  ).toEqual([intentId]);

  // The customer comes back: the same card, confirmed on session.
  const onSession = await stripe.paymentIntents.confirm(intentId, {
    payment_method: paymentMethod,
    return_url: 'https://app.example/credits/return',
  });
  expect(onSession.status).toBe('requires_action');
  expect(onSession.next_action?.redirect_to_url).toEqual({
    url: `${emulator.url}/authenticate/${intentId}`,
    return_url: 'https://app.example/credits/return',
  });
  expect(await eventsOf(stripe, 'payment_intent.succeeded')).toEqual([]);

  // The bank's challenge page: "Complete authentication" sends the customer back to the return_url.
  const answer = await fetch(String(onSession.next_action?.redirect_to_url?.url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'outcome=succeed',
    redirect: 'manual',
  });
  expect(answer.status).toBe(303);
  const back = new URL(String(answer.headers.get('location')));
  expect(`${back.origin}${back.pathname}`).toBe('https://app.example/credits/return');
  expect(back.searchParams.get('payment_intent')).toBe(intentId);

  const paid = await stripe.paymentIntents.retrieve(intentId);
  expect(paid).toMatchObject({
    status: 'succeeded',
    amount_received: 2500,
    metadata: PACK,
    next_action: null,
  });
  const [succeeded] = await eventsOf(stripe, 'payment_intent.succeeded');
  expect(succeeded.data.object).toMatchObject({ id: intentId, status: 'succeeded', metadata: PACK });
  const charge = await stripe.charges.retrieve(String(paid.latest_charge));
  expect(charge.receipt_url).toEqual(expect.stringContaining(`/receipts/payment/${charge.id}`));
});

it('off_session one_off is off session too; …3155 (asks on session only) goes through off session', async () => {
  const strict = await customerWithCard('pm_card_authenticationRequired');
  await expect(
    chargeOffSession(strict.customer, strict.paymentMethod, 'k-1', {
      off_session: 'one_off' as unknown as boolean,
    }),
  ).rejects.toMatchObject({ code: 'authentication_required' });
  const lenient = await customerWithCard('pm_card_authenticationRequiredOnSetup');
  const intent = await chargeOffSession(lenient.customer, lenient.paymentMethod, 'k-2');
  expect(intent.status).toBe('succeeded');
});

it('receipt_email: the charge records where the receipt went and its number', async () => {
  const { customer, paymentMethod } = await customerWithCard('pm_card_visa');
  const intent = await chargeOffSession(customer, paymentMethod, 'k-3', {
    receipt_email: 'billing@example.com',
  });
  expect(intent.receipt_email).toBe('billing@example.com');
  const charge = await stripe.charges.retrieve(String(intent.latest_charge));
  expect(charge.receipt_email).toBe('billing@example.com');
  expect(charge.receipt_number).toMatch(/^\d{4}-\d{4}$/);
});

it('a refund: charge.refunded and refund.created lead back to the intent and its metadata', async () => {
  const { customer, paymentMethod } = await customerWithCard('pm_card_visa');
  const intent = await chargeOffSession(customer, paymentMethod, 'k-4');
  const refund = await stripe.refunds.create({ payment_intent: intent.id });
  expect(refund).toMatchObject({ payment_intent: intent.id, amount: 2500, status: 'succeeded' });

  const [refunded] = await eventsOf(stripe, 'charge.refunded');
  const charge = refunded.data.object as Stripe.Charge;
  expect(charge).toMatchObject({
    id: intent.latest_charge,
    payment_intent: intent.id,
    metadata: PACK,
    refunded: true,
    amount_refunded: 2500,
  });
  const [created] = await eventsOf(stripe, 'refund.created');
  expect(created.data.object).toMatchObject({ id: refund.id, payment_intent: intent.id, charge: charge.id });
  const fromRefund = await stripe.paymentIntents.retrieve(
    String((created.data.object as Stripe.Refund).payment_intent),
  );
  expect(fromRefund.metadata).toEqual(PACK);

  // The receipt shows the charge as it is now.
  const receipt = await (await fetch(String(charge.receipt_url))).text();
  expect(receipt).toContain('id="status">refunded<');
});
