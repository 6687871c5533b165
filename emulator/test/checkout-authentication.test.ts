/**
 * 3-D Secure on the hosted Checkout page and on SetupIntents:
 * - a card whose issuer asks (4000 0027 6000 3184; https://docs.stripe.com/testing#authentication-and-setup) goes
 *   through the challenge page before the session completes, in `payment`, `subscription` and `setup` mode; a failed
 *   challenge shows the form again and leaves the session open with nothing created; …3178 asks, then is declined;
 * - a SetupIntent confirmed with such a card is `requires_action` with `next_action.redirect_to_url`
 *   (https://docs.stripe.com/payments/setupintents/lifecycle); approved it `succeeded`, failed it wants another card
 *   (`setup_intent_authentication_failure`).
 */
import type Stripe from 'stripe';
import { startTestEmulator, type TestEmulator } from './core-helpers';
import { eventTypes } from './billing-helpers';

let emulator: TestEmulator;
let stripe: Stripe;
let monthly: Stripe.Price;
let once: Stripe.Price;

const ASKS = '4000 0027 6000 3184';
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

beforeAll(async () => {
  emulator = await startTestEmulator();
  stripe = emulator.stripe;
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(async () => {
  await emulator.control('/_emulator/reset');
  const product = await stripe.products.create({ name: 'Team' });
  monthly = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 1500,
    recurring: { interval: 'month' },
  });
  once = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 2500 });
});

async function session(mode: 'payment' | 'subscription' | 'setup'): Promise<Stripe.Checkout.Session> {
  const customer = await stripe.customers.create({ email: `${mode}@example.com` });
  return stripe.checkout.sessions.create({
    mode,
    customer: customer.id,
    ...(mode === 'setup'
      ? { currency: 'usd' }
      : { line_items: [{ price: mode === 'payment' ? once.id : monthly.id, quantity: 1 }] }),
    success_url: 'https://app.example/ok?cs={CHECKOUT_SESSION_ID}',
  });
}

/** Submits the hosted form with `card`; the page's answer, not followed. */
async function submit(s: Stripe.Checkout.Session, card: string): Promise<Response> {
  return fetch(String(s.url), {
    method: 'POST',
    headers: FORM,
    body: new URLSearchParams({ card }).toString(),
    redirect: 'manual',
  });
}

/** Answers the page's challenge; the page's answer, not followed. */
async function answer(s: Stripe.Checkout.Session, outcome: 'succeed' | 'fail'): Promise<Response> {
  return fetch(`${emulator.url}/checkout/pay/${s.id}/authenticate`, {
    method: 'POST',
    headers: FORM,
    body: `outcome=${outcome}`,
    redirect: 'manual',
  });
}

it.each(['payment', 'subscription', 'setup'] as const)(
  '%s mode: a card that asks goes through the challenge, then the session completes',
  async (mode) => {
    const s = await session(mode);
    const submitted = await submit(s, ASKS);
    expect(submitted.status).toBe(303);
    expect(submitted.headers.get('location')).toBe(`/checkout/pay/${s.id}/authenticate`);
    // Nothing is paid or saved before the customer answers.
    expect((await stripe.checkout.sessions.retrieve(s.id)).status).toBe('open');
    const challenge = await fetch(`${emulator.url}/checkout/pay/${s.id}/authenticate`);
    const page = await challenge.text();
    expect(page).toContain('id="complete"');
    expect(page).toContain(mode === 'setup' ? 'saving this card' : mode === 'payment' ? '$25.00' : '$15.00');

    const approved = await answer(s, 'succeed');
    expect(approved.status).toBe(303);
    expect(approved.headers.get('location')).toBe(`https://app.example/ok?cs=${s.id}`);
    const done = await stripe.checkout.sessions.retrieve(s.id, { expand: ['subscription', 'setup_intent'] });
    expect(done.status).toBe('complete');
    if (mode === 'subscription') {
      expect((done.subscription as Stripe.Subscription).status).toBe('active');
      expect((await stripe.invoices.retrieve(String(done.invoice))).amount_paid).toBe(1500);
    } else if (mode === 'payment') {
      expect(done.payment_status).toBe('paid');
      expect((await stripe.paymentIntents.retrieve(String(done.payment_intent))).status).toBe('succeeded');
    } else {
      expect((done.setup_intent as Stripe.SetupIntent).status).toBe('succeeded');
    }
    // The approval was for this payment only: the card asks again next time (…3184 always asks). A payment-mode
    // session saves no card (no `setup_future_usage`): its intent's card is used as it is.
    const card =
      mode === 'payment'
        ? String((await stripe.paymentIntents.retrieve(String(done.payment_intent))).payment_method)
        : (await stripe.customers.listPaymentMethods(String(done.customer))).data[0]?.id;
    const later = await stripe.paymentIntents.create({
      amount: 500,
      currency: 'usd',
      customer: String(done.customer),
      payment_method: card,
      confirm: true,
    });
    expect(later.status).toBe('requires_action');
  },
);

it('a failed challenge shows the form with the error; the session stays open, nothing created; another card completes it', async () => {
  const s = await session('subscription');
  expect((await submit(s, ASKS)).status).toBe(303);
  const failed = await answer(s, 'fail');
  expect(failed.status).toBe(402);
  expect(await failed.text()).toContain('We are unable to authenticate your payment method');
  expect((await stripe.checkout.sessions.retrieve(s.id)).status).toBe('open');
  expect((await stripe.subscriptions.list({ customer: String(s.customer) })).data).toEqual([]);
  // The challenge is over: its page sends the customer back to the form.
  const again = await fetch(`${emulator.url}/checkout/pay/${s.id}/authenticate`, { redirect: 'manual' });
  expect(again.status).toBe(303);
  expect(again.headers.get('location')).toBe(`/checkout/pay/${s.id}`);

  const paid = await submit(s, '4242 4242 4242 4242');
  expect(paid.status).toBe(303);
  expect((await stripe.checkout.sessions.retrieve(s.id)).status).toBe('complete');
});

it('…3178 asks, and once approved is declined for insufficient funds: the form again, the session open', async () => {
  const s = await session('payment');
  expect((await submit(s, '4000 0082 6000 3178')).status).toBe(303);
  const declined = await answer(s, 'succeed');
  expect(declined.status).toBe(402);
  expect(await declined.text()).toContain('insufficient funds');
  expect((await stripe.checkout.sessions.retrieve(s.id)).status).toBe('open');
});

it('the test completion endpoint asks which way the challenge went for a card that asks', async () => {
  const s = await session('subscription');
  const complete = (params: Record<string, string>) =>
    emulator.raw('POST', `/_emulator/checkout/sessions/${s.id}/complete`, {
      body: new URLSearchParams({ card: ASKS, ...params }).toString(),
      auth: null,
    });
  expect((await complete({})).status).toBe(400);
  const failed = await complete({ authentication: 'fail' });
  expect(failed.status).toBe(402);
  expect(failed.json).toMatchObject({ error: { code: 'payment_intent_authentication_failure' } });
  expect((await complete({ authentication: 'succeed' })).status).toBe(200);
  const done = await stripe.checkout.sessions.retrieve(s.id, { expand: ['subscription'] });
  expect((done.subscription as Stripe.Subscription).status).toBe('active');
});

describe('SetupIntents', () => {
  async function confirmed(paymentMethod: string, returnUrl?: string): Promise<Stripe.SetupIntent> {
    const customer = await stripe.customers.create({ email: 'setup@example.com' });
    return stripe.setupIntents.create({
      customer: customer.id,
      payment_method: paymentMethod,
      confirm: true,
      ...(returnUrl ? { return_url: returnUrl } : {}),
    });
  }

  it.each([
    ['pm_card_authenticationRequired', '3184'],
    ['pm_card_authenticationRequiredOnSetup', '3155'],
  ])('%s: requires_action with a redirect to the challenge, then succeeded', async (card) => {
    const setup = await confirmed(card, 'https://app.example/cards');
    expect(setup.status).toBe('requires_action');
    expect(setup.next_action).toEqual({
      type: 'redirect_to_url',
      redirect_to_url: {
        url: `${emulator.url}/authenticate/${setup.id}`,
        return_url: 'https://app.example/cards',
      },
    });
    const page = await fetch(String(setup.next_action?.redirect_to_url?.url));
    expect(await page.text()).toContain('saving this card');
    const approved = await fetch(String(setup.next_action?.redirect_to_url?.url), {
      method: 'POST',
      headers: FORM,
      body: 'outcome=succeed',
      redirect: 'manual',
    });
    expect(approved.status).toBe(303);
    expect(approved.headers.get('location')).toBe(`https://app.example/cards?setup_intent=${setup.id}`);
    const done = await stripe.setupIntents.retrieve(setup.id);
    expect(done).toMatchObject({ status: 'succeeded', next_action: null });
    const types = await eventTypes(stripe, (event) => event.type.startsWith('setup_intent.'));
    expect(types).toEqual(['setup_intent.created', 'setup_intent.requires_action', 'setup_intent.succeeded']);
  });

  it('a failed challenge wants another card: requires_payment_method, setup_intent_authentication_failure', async () => {
    const setup = await confirmed('pm_card_authenticationRequired');
    expect(setup.next_action?.redirect_to_url?.return_url).toBeNull();
    await emulator.control(`/_emulator/setup_intents/${setup.id}/authenticate`, { outcome: 'fail' });
    const failed = await stripe.setupIntents.retrieve(setup.id);
    expect(failed.status).toBe('requires_payment_method');
    expect(failed.last_setup_error?.code).toBe('setup_intent_authentication_failure');
    const again = await stripe.setupIntents.confirm(setup.id, { payment_method: 'pm_card_visa' });
    expect(again.status).toBe('succeeded');
  });

  it('a card that does not ask is set up at once', async () => {
    expect((await confirmed('pm_card_visa')).status).toBe('succeeded');
  });

  // "If you use the SetupIntent with a Customer, it automatically attaches the resulting payment method to that
  // Customer after successful setup" (https://docs.stripe.com/api/setup_intents): not while the bank is asked, not
  // after a failed challenge, and not for a declined card.
  it('the card is attached to the customer only once set up: not while asked, not after a failure or a decline', async () => {
    const setup = await confirmed('pm_card_authenticationRequired');
    const customer = String(setup.customer);
    const cards = async () =>
      (await stripe.customers.listPaymentMethods(customer)).data.map((card) => card.id);
    expect(await cards()).toEqual([]);
    await emulator.control(`/_emulator/setup_intents/${setup.id}/authenticate`, { outcome: 'fail' });
    expect(await cards()).toEqual([]);
    await expect(
      stripe.setupIntents.confirm(setup.id, { payment_method: 'pm_card_chargeDeclined' }),
    ).rejects.toMatchObject({ code: 'card_declined' });
    expect(await cards()).toEqual([]);
    const again = await stripe.setupIntents.confirm(setup.id, {
      payment_method: 'pm_card_authenticationRequired',
    });
    expect(again.status).toBe('requires_action');
    expect(await cards()).toEqual([]);
    await emulator.control(`/_emulator/setup_intents/${setup.id}/authenticate`, { outcome: 'succeed' });
    expect(await cards()).toEqual([again.payment_method]);
    const events = (await stripe.events.list({ limit: 100 })).data
      .filter((event) => (event.data.object as { customer?: string }).customer === customer)
      .map((event) => event.type)
      .filter((type) => type === 'payment_method.attached' || type === 'setup_intent.succeeded')
      .reverse();
    expect(events).toEqual(['payment_method.attached', 'setup_intent.succeeded']);
  });
});
