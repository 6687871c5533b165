/**
 * Values Stripe refuses before doing anything: non-integers where an integer is expected
 * (`parameter_invalid_integer`) and webhook endpoints subscribed to event types Stripe doesn't have.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Stripe from 'stripe';
import { WEBHOOK_EVENT_TYPES } from '../src/resources/webhook-event-types';
import { type TestEmulator, useEmulatorPerFile } from './core-helpers';

let emulator: TestEmulator;
let stripe: Stripe;

useEmulatorPerFile((started) => {
  emulator = started;
  stripe = started.stripe;
});

async function stripeError(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  const outcome = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(outcome instanceof Stripe.errors.StripeError))
    throw new Error(`expected a Stripe error, got ${String(outcome)}`);
  return outcome;
}

async function monthlyPrice(): Promise<Stripe.Price> {
  const product = await stripe.products.create({ name: 'Plan' });
  return stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 1000,
    recurring: { interval: 'month' },
  });
}

describe('parameter_invalid_integer', () => {
  test('a decimal amount through the SDK: 400 naming amount, "Invalid integer: 10.5"', async () => {
    const e = await stripeError(stripe.paymentIntents.create({ amount: 10.5, currency: 'usd' }));
    expect(e).toMatchObject({
      statusCode: 400,
      type: 'StripeInvalidRequestError',
      code: 'parameter_invalid_integer',
      param: 'amount',
      message: 'Invalid integer: 10.5',
    });
    expect((await stripe.paymentIntents.list()).data).toEqual([]);
  });

  test.each([
    ['GET', '/v1/customers?limit=abc', 'limit', 'abc', null],
    ['GET', '/v1/customers?created[gte]=yesterday', 'created[gte]', 'yesterday', null],
    ['POST', '/v1/prices', 'unit_amount', '12.5', 'currency=usd&product_data[name]=P&unit_amount=12.5'],
    [
      'POST',
      '/v1/prices',
      'recurring[interval_count]',
      'two',
      'currency=usd&product_data[name]=P&unit_amount=100&recurring[interval]=month&recurring[interval_count]=two',
    ],
    ['POST', '/v1/payment_intents', 'amount', '1e3', 'currency=usd&amount=1e3'],
  ])('%s %s: 400 parameter_invalid_integer on %s', async (method, path, param, value, body) => {
    const r = await emulator.raw(method, path, body === null ? {} : { body });
    expect(r.status).toBe(400);
    expect(r.json.error).toEqual({
      type: 'invalid_request_error',
      code: 'parameter_invalid_integer',
      doc_url: 'https://stripe.com/docs/error-codes/parameter-invalid-integer',
      message: `Invalid integer: ${value}`,
      param,
    });
  });

  test('nested and timestamp parameters name themselves; `now` stays a valid timestamp', async () => {
    const price = await monthlyPrice();
    const customer = await stripe.customers.create({
      payment_method: 'pm_card_visa',
      invoice_settings: { default_payment_method: 'pm_card_visa' },
    });
    const quantity = await emulator.raw('POST', '/v1/subscriptions', {
      body: `customer=${customer.id}&items[0][price]=${price.id}&items[0][quantity]=2.5`,
    });
    expect(quantity.json.error).toMatchObject({
      code: 'parameter_invalid_integer',
      param: 'items[0][quantity]',
    });
    const trial = await emulator.raw('POST', '/v1/subscriptions', {
      body: `customer=${customer.id}&items[0][price]=${price.id}&trial_end=tomorrow`,
    });
    expect(trial.json.error).toMatchObject({
      code: 'parameter_invalid_integer',
      param: 'trial_end',
      message: 'Invalid integer: tomorrow',
    });
    const phase = await emulator.raw('POST', '/v1/subscription_schedules', {
      body: `customer=${customer.id}&start_date=now&phases[0][items][0][price]=${price.id}&phases[0][end_date]=soon`,
    });
    expect(phase.json.error).toMatchObject({
      code: 'parameter_invalid_integer',
      param: 'phases[0][end_date]',
    });
    expect((await stripe.subscriptions.list({ customer: customer.id })).data).toEqual([]);

    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      trial_end: 'now',
    });
    expect(subscription.status).toBe('active');
  });
});

describe('webhook endpoint enabled_events', () => {
  test("an unknown event type is Stripe's 400 naming the entry, listing the valid types", async () => {
    const e = await stripeError(
      stripe.webhookEndpoints.create({
        url: 'https://example.com/hook',
        enabled_events: [
          'invoice.paid',
          'invented.created' as Stripe.WebhookEndpointCreateParams.EnabledEvent,
        ],
      }),
    );
    expect(e).toMatchObject({
      statusCode: 400,
      type: 'StripeInvalidRequestError',
      param: 'enabled_events[1]',
    });
    expect(e.code).toBeUndefined();
    expect(e.message).toMatch(
      /^Invalid enabled_events\[1\]: must be one of account\.application\.authorized, account\.application\.deauthorized, /,
    );
    expect(e.message).toContain(', invoice.paid, ');
    expect(e.message).toMatch(/, or treasury\.received_debit\.created$/);
    expect((await stripe.webhookEndpoints.list()).data).toEqual([]);
  });

  test('prefix patterns are not event types; updates are checked too and change nothing when refused', async () => {
    const prefix = await emulator.raw('POST', '/v1/webhook_endpoints', {
      body: 'url=https://example.com/hook&enabled_events[0]=customer.*',
    });
    expect(prefix.status).toBe(400);
    expect(prefix.json.error).toMatchObject({ param: 'enabled_events[0]' });
    const we = await stripe.webhookEndpoints.create({
      url: 'https://example.com/hook',
      enabled_events: ['*'],
    });
    const refused = await emulator.raw('POST', `/v1/webhook_endpoints/${we.id}`, {
      body: 'enabled_events[0]=customer.updated&enabled_events[1]=customer.upgraded',
    });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ param: 'enabled_events[1]' });
    expect((await stripe.webhookEndpoints.retrieve(we.id)).enabled_events).toEqual(['*']);
  });

  test("every event type of the SDK's EnabledEvent is accepted, and the list is exactly the SDK's", async () => {
    const declaration = readFileSync(
      join(__dirname, '../../node_modules/stripe/cjs/resources/WebhookEndpoints.d.ts'),
      'utf8',
    );
    const union = /type EnabledEvent = ([^;]+);/.exec(declaration)?.[1] ?? '';
    const fromSdk = [...union.matchAll(/'([^']+)'/g)].map((m) => m[1]).filter((name) => name !== '*');
    expect(fromSdk.length).toBeGreaterThan(200);
    expect([...WEBHOOK_EVENT_TYPES].sort()).toEqual([...fromSdk].sort());
    const we = await stripe.webhookEndpoints.create({
      url: 'https://example.com/hook',
      enabled_events: [...WEBHOOK_EVENT_TYPES],
    });
    expect(we.enabled_events).toHaveLength(WEBHOOK_EVENT_TYPES.length);
  });
});
