/**
 * `/v1/payment_intents` and `/v1/setup_intents`, as far as the billing flows need them: confirming
 * an invoice's payment intent (`default_incomplete`) pays the invoice and activates the
 * subscription; confirming a subscription's pending setup intent sets its default payment method.
 */
import type Stripe from 'stripe';
import { cardError, invalidRequest } from '../../core/errors';
import type { ApiRequest, Route } from '../../core/http';
import { learnOrigin } from '../urls';
import { paginate } from '../../core/list';
import { requireCustomer } from '../../resources/common';
import { resolvePaymentMethod } from '../../resources/payment-methods';
import { type Emulator, emit, idOf } from '../context';
import { invoicePaidByIntent, invoicePaymentFailedByIntent } from '../invoices/invoices';
import { AUTHENTICATION_REQUIRED, needsAuthentication, requireAuthentication } from './authentication';
import { cardOutcome } from './cards';
import {
  cancelPaymentIntent,
  confirmPaymentIntent,
  markSetupSucceeded,
  newPaymentIntent,
  newSetupIntent,
} from './payments';
import { requireSetupAuthentication } from './setup-authentication';
import { COLLECTIONS } from '../../core/collections';

function requirePi(emulator: Emulator, paymentIntentId: string): Stripe.PaymentIntent {
  return emulator.store.require(COLLECTIONS.paymentIntent, paymentIntentId, 'payment_intent');
}

function requireSi(emulator: Emulator, setupIntentId: string): Stripe.SetupIntent {
  return emulator.store.require(COLLECTIONS.setupIntent, setupIntentId, 'setup_intent');
}

/**
 * A payment or setup intent's `payment_method` param: test ids become a new pm. It is not attached to the intent's
 * customer here: a payment intent attaches its card only after a successful confirmation with `setup_future_usage`
 * (https://docs.stripe.com/payments/save-during-payment; `setup_future_usage` in the SDK's PaymentIntent params), and
 * a setup intent "automatically attaches the resulting payment method to that Customer after successful setup"
 * (https://docs.stripe.com/api/setup_intents): `markSetupSucceeded` does, so a card whose setup waits for 3-D Secure,
 * fails it, or is declined is not on the customer.
 */
function paymentMethodFor(emulator: Emulator, value: string): string {
  return resolvePaymentMethod(emulator, value, 'payment_method').id;
}

/** `off_session` and `return_url` of a confirmation (create with `confirm=true`, or `/confirm`). */
interface ConfirmOptions {
  offSession: boolean;
  returnUrl: string | null;
}

function confirmOptions(req: ApiRequest): ConfirmOptions {
  // The challenge's address is one of the emulator's hosted pages: learn the origin clients reach it at.
  learnOrigin(req.emulator, req.headers.host);
  return { offSession: readOffSession(req), returnUrl: req.input.str('return_url') ?? null };
}

/** `off_session`: `true`, or the kind of off-session payment (`one_off`, `recurring`), the SDK's PaymentIntent params. */
function readOffSession(req: ApiRequest): boolean {
  const value = req.input.str('off_session');
  if (value === 'one_off' || value === 'recurring') return true;
  return req.input.bool('off_session') ?? false;
}

function confirmPi(
  emulator: Emulator,
  paymentIntent: Stripe.PaymentIntent,
  paymentMethodParam: string | undefined,
  options: ConfirmOptions,
): Stripe.PaymentIntent {
  if (paymentIntent.status === 'succeeded' || paymentIntent.status === 'canceled') {
    throw invalidRequest(
      `This PaymentIntent's status is ${paymentIntent.status}, so it cannot be confirmed.`,
      undefined,
      'payment_intent_unexpected_state',
    );
  }
  const paymentMethod = paymentMethodParam
    ? paymentMethodFor(emulator, paymentMethodParam)
    : idOf(paymentIntent.payment_method);
  if (!paymentMethod) {
    throw invalidRequest(
      "You cannot confirm this PaymentIntent because it's missing a payment method.",
      'payment_method',
      'payment_intent_unexpected_state',
    );
  }
  const asks = needsAuthentication(emulator, paymentMethod, options.offSession);
  if (asks && !options.offSession) {
    // The answer is 200 with the intent in `requires_action` (https://docs.stripe.com/payments/paymentintents/lifecycle).
    return requireAuthentication(emulator, paymentIntent, paymentMethod, options.returnUrl);
  }
  // Off session nobody can answer the bank: the payment is declined `authentication_required`, and the customer
  // is brought back to confirm on session (https://stripe.com/docs/payments/payment-intents/off-session).
  const r = confirmPaymentIntent(
    emulator,
    paymentIntent,
    paymentMethod,
    asks ? AUTHENTICATION_REQUIRED : undefined,
  );
  if (!r.ok && r.decline) {
    // Stripe's 402 carries the intent, now `requires_payment_method` with its `last_payment_error`
    // (https://docs.stripe.com/api/errors: `payment_intent` on card errors); an invoice's intent counts the try.
    invoicePaymentFailedByIntent(emulator, paymentIntent.id);
    throw cardError(r.decline.code, r.decline.message, r.decline.declineCode, {
      payment_intent: paymentIntent,
      charge: r.charge.id,
    });
  }
  invoicePaidByIntent(emulator, paymentIntent.id);
  return paymentIntent;
}

function confirmSi(
  emulator: Emulator,
  setupIntent: Stripe.SetupIntent,
  paymentMethodParam: string | undefined,
  options: ConfirmOptions,
): Stripe.SetupIntent {
  if (setupIntent.status === 'succeeded' || setupIntent.status === 'canceled') {
    throw invalidRequest(
      `This SetupIntent's status is ${setupIntent.status}, so it cannot be confirmed.`,
      undefined,
      'setup_intent_unexpected_state',
    );
  }
  const paymentMethod = paymentMethodParam
    ? paymentMethodFor(emulator, paymentMethodParam)
    : idOf(setupIntent.payment_method);
  if (!paymentMethod)
    throw invalidRequest(
      "You cannot confirm this SetupIntent because it's missing a payment method.",
      'payment_method',
    );
  // Setting a card up happens with the customer present: a card whose issuer asks does so now
  // (https://docs.stripe.com/payments/setupintents/lifecycle, "requires_action").
  if (needsAuthentication(emulator, paymentMethod, false))
    return requireSetupAuthentication(emulator, setupIntent, paymentMethod, options.returnUrl);
  const outcome = cardOutcome(emulator, paymentMethod);
  setupIntent.payment_method = paymentMethod;
  // Setup succeeds for cards that only fail on charge (…0341), as Stripe's do.
  const paymentMethodObject = emulator.store.get(COLLECTIONS.paymentMethod, paymentMethod);
  const setupFails = !outcome.ok && paymentMethodObject?.card?.last4 !== '0341';
  if (setupFails && !outcome.ok) {
    setupIntent.status = 'requires_payment_method';
    setupIntent.last_setup_error = {
      type: 'card_error',
      code: outcome.code,
      decline_code: outcome.declineCode,
      message: outcome.message,
    };
    emulator.store.put(COLLECTIONS.setupIntent, setupIntent);
    emit(emulator, 'setup_intent.setup_failed', setupIntent);
    throw cardError(outcome.code, outcome.message, outcome.declineCode, { setup_intent: setupIntent });
  }
  return markSetupSucceeded(emulator, setupIntent, paymentMethod);
}

export const routes: Route[] = [
  {
    method: 'POST',
    path: '/v1/payment_intents',
    handler: (req) => {
      const { emulator, input } = req;
      const customer = input.str('customer') ?? null;
      if (customer) requireCustomer(emulator, customer);
      const paymentMethodParam = input.str('payment_method');
      const paymentIntent = newPaymentIntent(emulator, {
        amount: input.reqInt('amount'),
        currency: input.reqStr('currency').toLowerCase(),
        customer,
        description: input.str('description') ?? null,
        paymentMethod: paymentMethodParam ? paymentMethodFor(emulator, paymentMethodParam) : null,
        metadata: input.metadata({}),
        setupFutureUsage: input.oneOf('setup_future_usage', ['off_session', 'on_session'] as const) ?? null,
        receiptEmail: input.str('receipt_email') ?? null,
      });
      if (input.bool('confirm')) return confirmPi(emulator, paymentIntent, undefined, confirmOptions(req));
      return paymentIntent;
    },
  },
  {
    method: 'GET',
    path: '/v1/payment_intents',
    handler: (req) => {
      const customer = req.input.str('customer');
      const items = req.emulator.store
        .all(COLLECTIONS.paymentIntent)
        .filter((x) => !customer || idOf(x.customer) === customer);
      return paginate(items, req.input, req.path);
    },
  },
  {
    method: 'GET',
    path: '/v1/payment_intents/:id',
    handler: (req) => requirePi(req.emulator, req.pathParams.id),
  },
  {
    method: 'POST',
    path: '/v1/payment_intents/:id',
    handler: ({ emulator, input, pathParams }) => {
      const paymentIntent = requirePi(emulator, pathParams.id);
      const { obj } = emulator.store.update(COLLECTIONS.paymentIntent, paymentIntent.id, (x) => {
        if (input.has('metadata')) x.metadata = input.metadata(x.metadata);
        if (input.has('description')) x.description = input.strOrNull('description') ?? null;
        if (input.has('receipt_email')) x.receipt_email = input.strOrNull('receipt_email') ?? null;
        const paymentMethod = input.str('payment_method');
        if (paymentMethod) x.payment_method = paymentMethodFor(emulator, paymentMethod);
      });
      return obj;
    },
  },
  {
    method: 'POST',
    path: '/v1/payment_intents/:id/confirm',
    handler: (req) =>
      confirmPi(
        req.emulator,
        requirePi(req.emulator, req.pathParams.id),
        req.input.str('payment_method'),
        confirmOptions(req),
      ),
  },
  {
    method: 'POST',
    path: '/v1/payment_intents/:id/cancel',
    handler: ({ emulator, input, pathParams }) => {
      const paymentIntent = requirePi(emulator, pathParams.id);
      if (paymentIntent.status === 'succeeded') {
        throw invalidRequest(
          'You cannot cancel this PaymentIntent because it has a status of succeeded.',
          undefined,
          'payment_intent_unexpected_state',
        );
      }
      const reason = input.str('cancellation_reason') ?? 'requested_by_customer';
      cancelPaymentIntent(emulator, paymentIntent, reason);
      return paymentIntent;
    },
  },
  {
    method: 'POST',
    path: '/v1/setup_intents',
    handler: (req) => {
      const { emulator, input } = req;
      const customer = input.str('customer') ?? null;
      if (customer) requireCustomer(emulator, customer);
      const paymentMethodParam = input.str('payment_method');
      const setupIntent = newSetupIntent(emulator, {
        customer,
        paymentMethod: paymentMethodParam ? paymentMethodFor(emulator, paymentMethodParam) : null,
        metadata: input.metadata({}),
        usage: input.str('usage'),
      });
      if (input.bool('confirm')) return confirmSi(emulator, setupIntent, undefined, confirmOptions(req));
      return setupIntent;
    },
  },
  {
    method: 'GET',
    path: '/v1/setup_intents',
    handler: (req) => {
      const customer = req.input.str('customer');
      const items = req.emulator.store
        .all(COLLECTIONS.setupIntent)
        .filter((x) => !customer || idOf(x.customer) === customer);
      return paginate(items, req.input, req.path);
    },
  },
  {
    method: 'GET',
    path: '/v1/setup_intents/:id',
    handler: (req) => requireSi(req.emulator, req.pathParams.id),
  },
  {
    method: 'POST',
    path: '/v1/setup_intents/:id/confirm',
    handler: (req) =>
      confirmSi(
        req.emulator,
        requireSi(req.emulator, req.pathParams.id),
        req.input.str('payment_method'),
        confirmOptions(req),
      ),
  },
  {
    method: 'POST',
    path: '/v1/setup_intents/:id/cancel',
    handler: ({ emulator, pathParams }) => {
      const setupIntent = requireSi(emulator, pathParams.id);
      const { obj, previous } = emulator.store.update(COLLECTIONS.setupIntent, setupIntent.id, (x) => {
        x.status = 'canceled';
        x.cancellation_reason = 'requested_by_customer';
      });
      emit(emulator, 'setup_intent.canceled', obj, previous);
      return obj;
    },
  },
];
