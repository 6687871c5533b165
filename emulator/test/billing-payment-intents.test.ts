/**
 * Confirming payment intents, and what a subscription keeps from a payment:
 * - a declined `POST /v1/payment_intents/:id/confirm` is a 402 `card_error` whose body carries the intent, now
 *   `requires_payment_method` with its `last_payment_error` (https://docs.stripe.com/api/errors);
 * - a card is attached to the intent's customer only after a successful confirmation with `setup_future_usage`
 *   (the SDK's PaymentIntent params; https://docs.stripe.com/payments/save-during-payment);
 * - confirming an invoice's intent is a payment attempt of the invoice: "Any payment attempt counts as the first
 *   attempt, and subsequently only automatic retries increment the attempt count" (the Invoice object);
 * - `payment_settings.save_default_payment_method: on_subscription` makes the payment method that paid the
 *   subscription's default ("Configure whether Stripe updates `subscription.default_payment_method` when payment
 *   succeeds", the SDK's Subscription type).
 */
import type Stripe from 'stripe';
import { useEmulatorPerFile } from './core-helpers';
import { advanceClock, eventsOf, GRACE, T0 } from './billing-helpers';

let stripe: Stripe;

useEmulatorPerFile((started) => {
  stripe = started.stripe;
});

const FEB1 = Date.UTC(2026, 1, 1) / 1000;

async function attachedCards(customer: string): Promise<string[]> {
  return (await stripe.customers.listPaymentMethods(customer)).data.map((paymentMethod) => paymentMethod.id);
}

it('a declined confirm is a 402 carrying the intent; nothing is attached without setup_future_usage', async () => {
  const customer = await stripe.customers.create({ email: 'pay@example.com' });
  const intent = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', customer: customer.id });

  const declined = await stripe.paymentIntents
    .confirm(intent.id, { payment_method: 'pm_card_chargeDeclined' })
    .then(
      () => null,
      (error: Stripe.errors.StripeError) => error,
    );
  expect(declined).toMatchObject({
    statusCode: 402,
    type: 'StripeCardError',
    code: 'card_declined',
    decline_code: 'generic_decline',
  });
  expect(declined?.payment_intent).toMatchObject({
    id: intent.id,
    status: 'requires_payment_method',
    last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline' },
  });
  const kept = await stripe.paymentIntents.retrieve(intent.id);
  expect(kept.status).toBe('requires_payment_method');
  expect(kept.last_payment_error?.code).toBe('card_declined');
  expect(await attachedCards(customer.id)).toEqual([]);

  const paid = await stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa' });
  expect(paid).toMatchObject({ status: 'succeeded', last_payment_error: null, amount_received: 1500 });
  expect(await attachedCards(customer.id)).toEqual([]);
});

it('setup_future_usage attaches the card to the customer once the payment succeeds', async () => {
  const customer = await stripe.customers.create({});
  const intent = await stripe.paymentIntents.create({
    amount: 900,
    currency: 'usd',
    customer: customer.id,
    setup_future_usage: 'off_session',
  });
  await expect(
    stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_chargeDeclinedInsufficientFunds' }),
  ).rejects.toMatchObject({ statusCode: 402, decline_code: 'insufficient_funds' });
  expect(await attachedCards(customer.id)).toEqual([]);
  const paid = await stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa' });
  expect(await attachedCards(customer.id)).toEqual([paid.payment_method]);
  expect(await eventsOf(stripe, 'payment_method.attached')).toHaveLength(1);
});

async function incompleteSubscription(save?: 'off' | 'on_subscription') {
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: T0 });
  const customer = await stripe.customers.create({ test_clock: clock.id });
  const product = await stripe.products.create({ name: 'Team' });
  const price = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 2500,
    recurring: { interval: 'month' },
  });
  const subscription = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    payment_behavior: 'default_incomplete',
    ...(save ? { payment_settings: { save_default_payment_method: save } } : {}),
    expand: ['latest_invoice.confirmation_secret'],
  });
  const invoice = subscription.latest_invoice as Stripe.Invoice;
  const intentId = (invoice.confirmation_secret?.client_secret ?? '').split('_secret_')[0];
  return { clock, customer, subscription, invoice, intentId };
}

it("a declined confirm of an invoice's intent counts as the invoice's first attempt only", async () => {
  const { subscription, invoice, intentId, customer } = await incompleteSubscription();
  for (const card of ['pm_card_chargeDeclined', 'pm_card_visa_chargeDeclined']) {
    await expect(stripe.paymentIntents.confirm(intentId, { payment_method: card })).rejects.toMatchObject({
      statusCode: 402,
      payment_intent: { id: intentId, status: 'requires_payment_method' },
    });
  }
  const open = await stripe.invoices.retrieve(invoice.id);
  expect(open).toMatchObject({
    status: 'open',
    attempted: true,
    attempt_count: 1,
    next_payment_attempt: null,
  });
  const failures = await eventsOf(stripe, 'invoice.payment_failed');
  expect(failures.map((e) => (e.data.object as Stripe.Invoice).attempt_count)).toEqual([1, 1]);
  expect(failures[0].data.previous_attributes).toMatchObject({ attempt_count: 0, attempted: false });
  // On-session declines are not automatic payment failures.
  expect(((await stripe.customers.retrieve(customer.id)) as Stripe.Customer).delinquent).toBe(false);
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('incomplete');

  await stripe.paymentIntents.confirm(intentId, { payment_method: 'pm_card_visa' });
  expect(await stripe.invoices.retrieve(invoice.id)).toMatchObject({ status: 'paid', attempt_count: 1 });
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('active');
});

it('save_default_payment_method on_subscription: the card that pays becomes the default and pays renewals', async () => {
  const { clock, customer, subscription, intentId } = await incompleteSubscription('on_subscription');
  expect(subscription.payment_settings?.save_default_payment_method).toBe('on_subscription');
  expect(subscription.default_payment_method).toBeNull();
  const paid = await stripe.paymentIntents.confirm(intentId, { payment_method: 'pm_card_visa' });
  const card = String(paid.payment_method);

  const active = await stripe.subscriptions.retrieve(subscription.id);
  expect(active).toMatchObject({ status: 'active', default_payment_method: card });
  expect(await attachedCards(customer.id)).toEqual([card]);
  const [activation] = (await eventsOf(stripe, 'customer.subscription.updated')).slice(-1);
  expect(activation.data.previous_attributes).toEqual({ status: 'incomplete', default_payment_method: null });

  await advanceClock(stripe, clock.id, FEB1 + GRACE);
  const renewal = (await stripe.invoices.list({ subscription: subscription.id })).data.find(
    (i) => i.billing_reason === 'subscription_cycle',
  );
  expect(renewal).toMatchObject({ status: 'paid', amount_paid: 2500 });
});

it('save_default_payment_method off (the default): the subscription keeps no card and the renewal fails', async () => {
  const { clock, customer, subscription, intentId } = await incompleteSubscription();
  expect(subscription.payment_settings?.save_default_payment_method).toBe('off');
  await stripe.paymentIntents.confirm(intentId, { payment_method: 'pm_card_visa' });
  expect((await stripe.subscriptions.retrieve(subscription.id)).default_payment_method).toBeNull();
  expect(await attachedCards(customer.id)).toEqual([]);
  await advanceClock(stripe, clock.id, FEB1 + GRACE);
  expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('past_due');
});
