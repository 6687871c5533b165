import Stripe from 'stripe';

/**
 * The one Stripe API version of this service: the one the installed SDK pins. Object shapes come from the
 * SDK's types for exactly this version, so they can never drift apart (see docs/adr).
 */
export const STRIPE_API_VERSION: string = Stripe.API_VERSION;
