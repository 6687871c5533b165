import Stripe from 'stripe';
import { idempotencyKey, stableJson } from '../../src/services/stripe/idempotency-key';
import { RateLimiter } from '../../src/services/stripe/rate-limiter';
import { toBillingError } from '../../src/services/stripe/stripe-errors';
import { apiBaseOptions } from '../../src/services/stripe/stripe-client';

describe('idempotencyKey', () => {
  it('is the same for the same intent and parameters, whatever their key order', () => {
    expect(idempotencyKey('customer.create:a', { email: 'x', name: 'y' })).toBe(
      idempotencyKey('customer.create:a', { name: 'y', email: 'x' }),
    );
    expect(stableJson({ b: [2, { d: 1, c: undefined }], a: null })).toBe('{"a":null,"b":[2,{"d":1}]}');
  });

  it('differs when the intent or a parameter differs, and stays within Stripe’s 255 characters', () => {
    const base = idempotencyKey('customer.create:a', { email: 'x' });
    expect(idempotencyKey('customer.create:b', { email: 'x' })).not.toBe(base);
    expect(idempotencyKey('customer.create:a', { email: 'z' })).not.toBe(base);
    expect(idempotencyKey('x'.repeat(400)).length).toBeLessThanOrEqual(255);
  });

  it('tells apart long intents that differ only past Stripe’s 255 characters (a caller’s long key after an id)', () => {
    const shared = `refund:in_123:acct_42:${'k'.repeat(260)}`;
    const first = idempotencyKey(`${shared}1`, { amount: 500 });
    const second = idempotencyKey(`${shared}2`, { amount: 500 });
    expect(first).not.toBe(second);
    expect(first.length).toBeLessThanOrEqual(255);
    expect(second.length).toBeLessThanOrEqual(255);
    // Short intents keep the key they always had, so a retry across a deploy still replays Stripe's answer.
    expect(idempotencyKey('customer.create:a', { email: 'x' })).toMatch(/^customer\.create:a:[0-9a-f]{24}$/);
  });
});

describe('RateLimiter', () => {
  it('lets a burst through at once and spaces the rest at the configured rate, in order', async () => {
    const limiter = new RateLimiter(20, 5);
    const started = Date.now();
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 15 }, (_, index) => limiter.acquire().then(() => order.push(index))),
    );
    const elapsed = Date.now() - started;
    // 5 at once, then 10 more at 20/s: about 500 ms.
    expect(elapsed).toBeGreaterThanOrEqual(400);
    expect(elapsed).toBeLessThan(2000);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });
});

describe('toBillingError', () => {
  it('maps a declined card to CARD_DECLINED with the decline code', () => {
    const error = new Stripe.errors.StripeCardError({
      type: 'card_error',
      statusCode: 402,
      code: 'card_declined',
      decline_code: 'insufficient_funds',
      message: 'Your card has insufficient funds.',
    });
    expect(toBillingError(error)?.extensions).toMatchObject({
      code: 'CARD_DECLINED',
      declineCode: 'insufficient_funds',
      stripeType: 'card_error',
    });
    expect(toBillingError(error)?.message).toBe('The card has insufficient funds');
  });

  it('maps a payment the bank asks to approve (3-D Secure) to AUTHENTICATION_REQUIRED, not a decline', () => {
    const error = new Stripe.errors.StripeCardError({
      type: 'card_error',
      statusCode: 402,
      code: 'invoice_payment_intent_requires_action',
      message: 'This payment requires additional user action before it can be completed successfully.',
    });
    expect(toBillingError(error)?.extensions).toMatchObject({
      code: 'AUTHENTICATION_REQUIRED',
      stripeCode: 'invoice_payment_intent_requires_action',
    });
    expect(toBillingError(error)?.extensions).not.toHaveProperty('declineCode');
  });

  it('maps rate limits and outages to a retryable STRIPE_ERROR, and a refused request to a final one', () => {
    const limited = new Stripe.errors.StripeRateLimitError({
      type: 'rate_limit_error',
      statusCode: 429,
      message: 'slow down',
    });
    const refused = new Stripe.errors.StripeInvalidRequestError({
      type: 'invalid_request_error',
      statusCode: 404,
      code: 'resource_missing',
      message: 'No such price',
    });
    expect(toBillingError(limited)?.extensions).toMatchObject({ code: 'STRIPE_ERROR', retryable: true });
    expect(toBillingError(refused)?.extensions).toMatchObject({
      code: 'STRIPE_ERROR',
      retryable: false,
      stripeCode: 'resource_missing',
    });
    expect(toBillingError(refused)?.message).not.toMatch(/No such price/);
  });

  it('leaves errors that are not Stripe’s alone', () => {
    expect(toBillingError(new Error('boom'))).toBeNull();
  });
});

describe('apiBaseOptions', () => {
  it('turns STRIPE_API_BASE into the SDK’s host, port and protocol', () => {
    expect(apiBaseOptions('http://127.0.0.1:12111')).toEqual({
      host: '127.0.0.1',
      port: '12111',
      protocol: 'http',
    });
    expect(apiBaseOptions('https://stripe.internal')).toEqual({
      host: 'stripe.internal',
      port: 443,
      protocol: 'https',
    });
    expect(apiBaseOptions(null)).toEqual({});
  });
});
