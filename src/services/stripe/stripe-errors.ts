import Stripe from 'stripe';
import { BillingError, ErrorCode, TaxLocationRequiredError } from '../../errors';

/**
 * Stripe's 402 when an invoice's payment needs the customer's authentication and the request asked not to wait for
 * it (`error_if_incomplete`; https://docs.stripe.com/error-codes#invoice-payment-intent-requires-action).
 */
export const REQUIRES_ACTION = 'invoice_payment_intent_requires_action';

/** Stripe Tax cannot place the customer: https://docs.stripe.com/error-codes#customer-tax-location-invalid. */
export const TAX_LOCATION_INVALID = 'customer_tax_location_invalid';

/**
 * What a Stripe failure means to our caller, decided by Stripe's error type and code (never its message):
 * a declined card is CARD_DECLINED with Stripe's decline code; anything else Stripe refused or could not do is
 * STRIPE_ERROR with Stripe's type, code and request id, so support can find the request in Stripe's logs.
 */
export function toBillingError(error: unknown): BillingError | null {
  if (!(error instanceof Stripe.errors.StripeError)) return null;
  const details = {
    stripeType: error.rawType ?? error.type,
    stripeCode: error.code ?? null,
    stripeRequestId: error.requestId ?? null,
  };
  if (error instanceof Stripe.errors.StripeCardError && error.code === REQUIRES_ACTION) {
    return new BillingError(
      ErrorCode.AUTHENTICATION_REQUIRED,
      "The card's bank asks the customer to approve this payment (3-D Secure)",
      details,
    );
  }
  // https://docs.stripe.com/tax/customer-locations: Stripe Tax cannot place the customer (no country, or a US
  // address without a 5-digit ZIP), e.g. on `tax[validate_location]=immediately`.
  if (error.code === TAX_LOCATION_INVALID) return new TaxLocationRequiredError(details);
  if (error instanceof Stripe.errors.StripeCardError) {
    return new BillingError(ErrorCode.CARD_DECLINED, cardMessage(error.decline_code ?? error.code), {
      ...details,
      declineCode: error.decline_code ?? null,
    });
  }
  if (error instanceof Stripe.errors.StripeRateLimitError) {
    return new BillingError(ErrorCode.STRIPE_ERROR, 'Stripe is busy; try again in a moment', {
      ...details,
      retryable: true,
    });
  }
  if (error instanceof Stripe.errors.StripeConnectionError || error instanceof Stripe.errors.StripeAPIError) {
    return new BillingError(ErrorCode.STRIPE_ERROR, 'Stripe could not be reached; try again in a moment', {
      ...details,
      retryable: true,
    });
  }
  return new BillingError(ErrorCode.STRIPE_ERROR, 'Stripe refused the request', {
    ...details,
    retryable: false,
  });
}

const CARD_MESSAGES: Record<string, string> = {
  insufficient_funds: 'The card has insufficient funds',
  expired_card: 'The card has expired',
  incorrect_cvc: "The card's security code is incorrect",
  processing_error: 'The card could not be processed; try again',
};

function cardMessage(code: string | undefined): string {
  return (code && CARD_MESSAGES[code]) ?? 'The card was declined';
}
