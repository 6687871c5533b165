import { BillingError, ErrorCode } from '../errors';

/**
 * A service that exists only when this instance talks to Stripe. An instance without `STRIPE_SECRET_KEY`
 * (development of the usage API alone) still answers everything else; these operations say what is missing.
 */
export function stripeRequired<T>(service: T | null): T {
  if (!service) {
    throw new BillingError(
      ErrorCode.STRIPE_ERROR,
      'Stripe is not configured on this instance: set STRIPE_SECRET_KEY',
    );
  }
  return service;
}
