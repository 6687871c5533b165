/**
 * 3-D Secure on a payment intent, as Stripe documents it:
 * - a card whose issuer asks (the test cards of https://docs.stripe.com/testing#authentication-and-setup) leaves
 *   the intent `requires_action` with `next_action.redirect_to_url {url, return_url}` and emits
 *   `payment_intent.requires_action`; no charge is made until the customer answers
 *   (https://docs.stripe.com/payments/paymentintents/lifecycle);
 * - approved, the payment is tried (…3178 is then declined for insufficient funds); failed, the intent goes back to
 *   `requires_payment_method` with `last_payment_error.code = payment_intent_authentication_failure`
 *   (https://docs.stripe.com/error-codes#payment-intent-authentication-failure) and `payment_intent.payment_failed`.
 *
 * Real Stripe answers `next_action.type = use_stripe_sdk` when the confirmation names no `return_url`; the emulator
 * always gives `redirect_to_url` (its `return_url` then null) so that a browser without Stripe.js can authenticate.
 */
import type Stripe from 'stripe';
import { invalidRequest } from '../../core/errors';
import { cardAuthentication } from '../../resources/payment-methods';
import { type Emulator, emit } from '../context';
import { hostedUrl } from '../urls';
import type { CardOutcome } from './cards';
import { type ChargeResult, confirmPaymentIntent } from './payments';
import { COLLECTIONS, type Storable } from '../../core/collections';

export type AuthenticationOutcome = 'succeed' | 'fail';

/**
 * An off-session payment whose issuer asks for authentication is declined: a 402 `card_error` with `code` and
 * `decline_code` `authentication_required`, the intent back in `requires_payment_method` with that
 * `last_payment_error` (https://stripe.com/docs/payments/payment-intents/off-session,
 * https://docs.stripe.com/error-codes#authentication-required; Stripe support: "Off-session PaymentIntents that fail
 * confirmation due to Strong Customer Authentication (SCA) requirements have a status of requires_payment_method").
 */
export const AUTHENTICATION_REQUIRED: CardOutcome = {
  ok: false,
  code: 'authentication_required',
  declineCode: 'authentication_required',
  message: 'Your card was declined. This transaction requires authentication.',
};

/**
 * Whether the card's issuer asks for authentication: `always` cards ask every time; `on_session` cards
 * (4000 0025 0000 3155) ask while the customer is present and not for off-session payments such as renewals.
 */
export function needsAuthentication(emulator: Emulator, paymentMethod: string, offSession: boolean): boolean {
  if (emulator.store.get(COLLECTIONS.authenticationApproval, paymentMethod)) return false;
  const asks = cardAuthentication(emulator, paymentMethod);
  return asks === 'always' || (asks === 'on_session' && !offSession);
}

/**
 * Runs `pay` with the customer's answer to the card's challenge already given (`succeed`): the hosted Checkout page
 * shows the challenge in the page before it pays or saves the card, as Stripe's Checkout, an SCA-ready product,
 * runs 3D Secure itself (https://docs.stripe.com/strong-customer-authentication,
 * https://docs.stripe.com/payments/3d-secure), so what `pay` charges or sets up with this card asks no more. The approval lasts for `pay` only: a later payment asks as the card does.
 */
export function withApprovedAuthentication<T>(emulator: Emulator, paymentMethod: string, pay: () => T): T {
  emulator.store.put(COLLECTIONS.authenticationApproval, { id: paymentMethod });
  try {
    return pay();
  } finally {
    emulator.store.delete(COLLECTIONS.authenticationApproval, paymentMethod);
  }
}

/** The hosted page the customer authenticates on (the bank's 3-D Secure challenge). */
export function authenticationUrl(emulator: Emulator, paymentIntentId: string): string {
  return hostedUrl(emulator, `/authenticate/${paymentIntentId}`);
}

/** `requires_action` with the redirect the customer follows; emits `payment_intent.requires_action`. */
export function requireAuthentication(
  emulator: Emulator,
  paymentIntent: Stripe.PaymentIntent,
  paymentMethod: string,
  returnUrl: string | null,
): Stripe.PaymentIntent {
  const { obj } = emulator.store.update(COLLECTIONS.paymentIntent, paymentIntent.id, (intent) => {
    intent.status = 'requires_action';
    intent.payment_method = paymentMethod;
    intent.last_payment_error = null;
    intent.next_action = {
      type: 'redirect_to_url',
      redirect_to_url: { url: authenticationUrl(emulator, intent.id), return_url: returnUrl },
    };
  });
  emit(emulator, 'payment_intent.requires_action', obj);
  return obj;
}

/**
 * The customer's answer to the challenge. `succeed`: the payment is tried with the card (its own outcome decides);
 * `fail`: `requires_payment_method` with the authentication failure. Returns the charge attempt, or null on `fail`.
 */
export function completeAuthentication(
  emulator: Emulator,
  paymentIntent: Stripe.PaymentIntent,
  outcome: AuthenticationOutcome,
): ChargeResult | null {
  if (paymentIntent.status !== 'requires_action') {
    throw invalidRequest(
      `This PaymentIntent's status is ${paymentIntent.status}; only a PaymentIntent that requires action can be authenticated.`,
      undefined,
      'payment_intent_unexpected_state',
    );
  }
  const paymentMethod =
    typeof paymentIntent.payment_method === 'string'
      ? paymentIntent.payment_method
      : (paymentIntent.payment_method?.id ?? '');
  paymentIntent.next_action = null;
  if (outcome === 'succeed') return confirmPaymentIntent(emulator, paymentIntent, paymentMethod);
  const storedPaymentMethod = emulator.store.get(COLLECTIONS.paymentMethod, paymentMethod);
  paymentIntent.status = 'requires_payment_method';
  paymentIntent.last_payment_error = {
    type: 'invalid_request_error',
    code: 'payment_intent_authentication_failure',
    message:
      'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.',
    payment_method: storedPaymentMethod,
  };
  emulator.store.put(COLLECTIONS.paymentIntent, paymentIntent);
  emit(emulator, 'payment_intent.payment_failed', paymentIntent);
  return null;
}

/** The `return_url` the challenge sends the customer back to, if the confirmation named one. */
export function returnUrlOf(paymentIntent: Stripe.PaymentIntent): string | null {
  return paymentIntent.next_action?.redirect_to_url?.return_url ?? null;
}

declare module '../../core/collections' {
  interface CollectionRecords {
    _authentication_approval: Storable;
  }
}
