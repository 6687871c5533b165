/**
 * 3-D Secure on a setup intent, as Stripe documents it (https://docs.stripe.com/payments/setupintents/lifecycle):
 * setting up a card whose issuer asks (the test cards of https://docs.stripe.com/testing#authentication-and-setup,
 * 4000 0027 6000 3184 and 4000 0025 0000 3155 among them: setting a card up is always on-session) leaves the intent
 * `requires_action` with `next_action.redirect_to_url {url, return_url}` and emits `setup_intent.requires_action`;
 * approved, it `succeeded` (`setup_intent.succeeded`); failed, it goes back to `requires_payment_method` with
 * `last_setup_error.code = setup_intent_authentication_failure`
 * (https://docs.stripe.com/error-codes#setup-intent-authentication-failure) and `setup_intent.setup_failed`.
 * As for payment intents, the emulator always answers `redirect_to_url` (never `use_stripe_sdk`).
 */
import type Stripe from 'stripe';
import { invalidRequest } from '../../core/errors';
import { type Emulator, emit } from '../context';
import { hostedUrl } from '../urls';
import type { AuthenticationOutcome } from './authentication';
import { markSetupSucceeded } from './payments';
import { COLLECTIONS } from '../../core/collections';

/** `requires_action` with the redirect the customer follows to the challenge; emits `setup_intent.requires_action`. */
export function requireSetupAuthentication(
  emulator: Emulator,
  setupIntent: Stripe.SetupIntent,
  paymentMethod: string,
  returnUrl: string | null,
): Stripe.SetupIntent {
  const { obj } = emulator.store.update(COLLECTIONS.setupIntent, setupIntent.id, (intent) => {
    intent.status = 'requires_action';
    intent.payment_method = paymentMethod;
    intent.last_setup_error = null;
    intent.next_action = {
      type: 'redirect_to_url',
      redirect_to_url: { url: hostedUrl(emulator, `/authenticate/${intent.id}`), return_url: returnUrl },
    };
  });
  emit(emulator, 'setup_intent.requires_action', obj);
  return obj;
}

/** The customer's answer to the challenge: `succeed` sets the card up, `fail` leaves the intent wanting another. */
export function completeSetupAuthentication(
  emulator: Emulator,
  setupIntent: Stripe.SetupIntent,
  outcome: AuthenticationOutcome,
): Stripe.SetupIntent {
  if (setupIntent.status !== 'requires_action') {
    throw invalidRequest(
      `This SetupIntent's status is ${setupIntent.status}; only a SetupIntent that requires action can be authenticated.`,
      undefined,
      'setup_intent_unexpected_state',
    );
  }
  const paymentMethod =
    typeof setupIntent.payment_method === 'string'
      ? setupIntent.payment_method
      : (setupIntent.payment_method?.id ?? '');
  setupIntent.next_action = null;
  if (outcome === 'succeed') return markSetupSucceeded(emulator, setupIntent, paymentMethod);
  setupIntent.status = 'requires_payment_method';
  setupIntent.last_setup_error = {
    type: 'invalid_request_error',
    code: 'setup_intent_authentication_failure',
    message:
      'The latest attempt to set up the payment method has failed because authentication failed. Provide a new payment method to attempt to set up this SetupIntent again.',
    payment_method: emulator.store.get(COLLECTIONS.paymentMethod, paymentMethod),
  };
  emulator.store.put(COLLECTIONS.setupIntent, setupIntent);
  emit(emulator, 'setup_intent.setup_failed', setupIntent);
  return setupIntent;
}

/** The `return_url` the challenge sends the customer back to, if the confirmation named one. */
export function setupReturnUrlOf(setupIntent: Stripe.SetupIntent): string | null {
  return setupIntent.next_action?.redirect_to_url?.return_url ?? null;
}
