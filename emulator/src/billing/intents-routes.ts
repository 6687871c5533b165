/**
 * `/v1/payment_intents` and `/v1/setup_intents`, as far as the billing flows need them: confirming
 * an invoice's payment intent (`default_incomplete`) pays the invoice and activates the
 * subscription; confirming a subscription's pending setup intent sets its default payment method.
 */
import type Stripe from 'stripe';
import { cardError, invalidRequest } from '../core/errors';
import type { Route } from '../core/http';
import { paginate } from '../core/list';
import { requireCustomer } from '../resources/common';
import { attachPaymentMethod, resolvePaymentMethod } from '../resources/payment-methods';
import { C, type Emulator, emit, idOf } from './ctx';
import { invoicePaidByIntent, invoicePaymentFailedByIntent } from './invoices';
import { cardOutcome } from './cards';
import { cancelPaymentIntent, confirmPaymentIntent, newPaymentIntent, newSetupIntent } from './payments';

function requirePi(emu: Emulator, piId: string): Stripe.PaymentIntent {
  return emu.store.require<Stripe.PaymentIntent>(C.paymentIntent, piId, 'payment_intent');
}

function requireSi(emu: Emulator, siId: string): Stripe.SetupIntent {
  return emu.store.require<Stripe.SetupIntent>(C.setupIntent, siId, 'setup_intent');
}

/**
 * A payment intent's `payment_method` param: test ids become a new pm. It is not attached to the intent's customer
 * here: a payment intent attaches its card only after a successful confirmation with `setup_future_usage`
 * (https://docs.stripe.com/payments/save-during-payment; `setup_future_usage` in the SDK's PaymentIntent params).
 */
function paymentMethodFor(emulator: Emulator, value: string): string {
  return resolvePaymentMethod(emulator, value, 'payment_method').id;
}

/** A setup intent's `payment_method` param: attached to its customer (setting it up is what a setup intent is for). */
function pmFor(emu: Emulator, value: string, customer: string | null): string {
  const pm = resolvePaymentMethod(emu, value, 'payment_method');
  if (customer && !pm.customer) attachPaymentMethod(emu, pm.id, customer);
  return pm.id;
}

function confirmPi(
  emu: Emulator,
  pi: Stripe.PaymentIntent,
  pmParam: string | undefined,
): Stripe.PaymentIntent {
  if (pi.status === 'succeeded' || pi.status === 'canceled') {
    throw invalidRequest(
      `This PaymentIntent's status is ${pi.status}, so it cannot be confirmed.`,
      undefined,
      'payment_intent_unexpected_state',
    );
  }
  const pm = pmParam ? paymentMethodFor(emu, pmParam) : idOf(pi.payment_method);
  if (!pm) {
    throw invalidRequest(
      "You cannot confirm this PaymentIntent because it's missing a payment method.",
      'payment_method',
      'payment_intent_unexpected_state',
    );
  }
  const r = confirmPaymentIntent(emu, pi, pm);
  if (!r.ok && r.decline) {
    // Stripe's 402 carries the intent, now `requires_payment_method` with its `last_payment_error`
    // (https://docs.stripe.com/api/errors: `payment_intent` on card errors); an invoice's intent counts the try.
    invoicePaymentFailedByIntent(emu, pi.id);
    throw cardError(r.decline.code, r.decline.message, r.decline.declineCode, {
      payment_intent: pi,
      charge: r.charge.id,
    });
  }
  invoicePaidByIntent(emu, pi.id);
  return pi;
}

function confirmSi(emu: Emulator, si: Stripe.SetupIntent, pmParam: string | undefined): Stripe.SetupIntent {
  const customer = idOf(si.customer);
  const pm = pmParam ? pmFor(emu, pmParam, customer) : idOf(si.payment_method);
  if (!pm)
    throw invalidRequest(
      "You cannot confirm this SetupIntent because it's missing a payment method.",
      'payment_method',
    );
  const outcome = cardOutcome(emu, pm);
  si.payment_method = pm;
  // Setup succeeds for cards that only fail on charge (…0341), as Stripe's do.
  const pmObj = emu.store.get<Stripe.PaymentMethod>(C.paymentMethod, pm);
  const setupFails = !outcome.ok && pmObj?.card?.last4 !== '0341';
  if (setupFails && !outcome.ok) {
    si.status = 'requires_payment_method';
    si.last_setup_error = {
      type: 'card_error',
      code: outcome.code,
      decline_code: outcome.declineCode,
      message: outcome.message,
    };
    emu.store.put(C.setupIntent, si);
    emit(emu, 'setup_intent.setup_failed', si);
    throw cardError(outcome.code, outcome.message, outcome.declineCode, { setup_intent: si });
  }
  si.status = 'succeeded';
  si.last_setup_error = null;
  emu.store.put(C.setupIntent, si);
  emit(emu, 'setup_intent.succeeded', si);
  // A subscription's pending setup intent: its payment method becomes the default.
  for (const sub of emu.store.all<Stripe.Subscription>(C.subscription)) {
    if (sub.pending_setup_intent === si.id) {
      const { obj, previous } = emu.store.update<Stripe.Subscription>(C.subscription, sub.id, (s) => {
        s.pending_setup_intent = null;
        s.default_payment_method = pm;
      });
      emit(emu, 'customer.subscription.updated', obj, previous);
    }
  }
  return si;
}

export const routes: Route[] = [
  {
    method: 'POST',
    path: '/v1/payment_intents',
    handler: ({ emu, p }) => {
      const customer = p.str('customer') ?? null;
      if (customer) requireCustomer(emu, customer);
      const pmParam = p.str('payment_method');
      const pi = newPaymentIntent(emu, {
        amount: p.reqInt('amount'),
        currency: p.reqStr('currency').toLowerCase(),
        customer,
        description: p.str('description') ?? null,
        paymentMethod: pmParam ? paymentMethodFor(emu, pmParam) : null,
        metadata: p.metadata({}),
        setupFutureUsage: p.oneOf('setup_future_usage', ['off_session', 'on_session'] as const) ?? null,
      });
      if (p.bool('confirm')) return confirmPi(emu, pi, undefined);
      return pi;
    },
  },
  {
    method: 'GET',
    path: '/v1/payment_intents',
    handler: (req) => {
      const customer = req.p.str('customer');
      const items = req.emu.store
        .all<Stripe.PaymentIntent>(C.paymentIntent)
        .filter((x) => !customer || idOf(x.customer) === customer);
      return paginate(items, req.p, req.path);
    },
  },
  { method: 'GET', path: '/v1/payment_intents/:id', handler: (req) => requirePi(req.emu, req.pathParams.id) },
  {
    method: 'POST',
    path: '/v1/payment_intents/:id',
    handler: ({ emu, p, pathParams }) => {
      const pi = requirePi(emu, pathParams.id);
      const { obj } = emu.store.update<Stripe.PaymentIntent>(C.paymentIntent, pi.id, (x) => {
        if (p.has('metadata')) x.metadata = p.metadata(x.metadata);
        if (p.has('description')) x.description = p.strOrNull('description') ?? null;
        const pm = p.str('payment_method');
        if (pm) x.payment_method = paymentMethodFor(emu, pm);
      });
      return obj;
    },
  },
  {
    method: 'POST',
    path: '/v1/payment_intents/:id/confirm',
    handler: ({ emu, p, pathParams }) =>
      confirmPi(emu, requirePi(emu, pathParams.id), p.str('payment_method')),
  },
  {
    method: 'POST',
    path: '/v1/payment_intents/:id/cancel',
    handler: ({ emu, p, pathParams }) => {
      const pi = requirePi(emu, pathParams.id);
      if (pi.status === 'succeeded') {
        throw invalidRequest(
          'You cannot cancel this PaymentIntent because it has a status of succeeded.',
          undefined,
          'payment_intent_unexpected_state',
        );
      }
      const reason = p.str('cancellation_reason') ?? 'requested_by_customer';
      cancelPaymentIntent(emu, pi, reason);
      return pi;
    },
  },
  {
    method: 'POST',
    path: '/v1/setup_intents',
    handler: ({ emu, p }) => {
      const customer = p.str('customer') ?? null;
      if (customer) requireCustomer(emu, customer);
      const pmParam = p.str('payment_method');
      const si = newSetupIntent(emu, {
        customer,
        paymentMethod: pmParam ? pmFor(emu, pmParam, customer) : null,
        metadata: p.metadata({}),
        usage: p.str('usage'),
      });
      if (p.bool('confirm')) return confirmSi(emu, si, undefined);
      return si;
    },
  },
  {
    method: 'GET',
    path: '/v1/setup_intents',
    handler: (req) => {
      const customer = req.p.str('customer');
      const items = req.emu.store
        .all<Stripe.SetupIntent>(C.setupIntent)
        .filter((x) => !customer || idOf(x.customer) === customer);
      return paginate(items, req.p, req.path);
    },
  },
  { method: 'GET', path: '/v1/setup_intents/:id', handler: (req) => requireSi(req.emu, req.pathParams.id) },
  {
    method: 'POST',
    path: '/v1/setup_intents/:id/confirm',
    handler: ({ emu, p, pathParams }) =>
      confirmSi(emu, requireSi(emu, pathParams.id), p.str('payment_method')),
  },
  {
    method: 'POST',
    path: '/v1/setup_intents/:id/cancel',
    handler: ({ emu, pathParams }) => {
      const si = requireSi(emu, pathParams.id);
      const { obj, previous } = emu.store.update<Stripe.SetupIntent>(C.setupIntent, si.id, (x) => {
        x.status = 'canceled';
        x.cancellation_reason = 'requested_by_customer';
      });
      emit(emu, 'setup_intent.canceled', obj, previous);
      return obj;
    },
  },
];
