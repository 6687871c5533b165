import Stripe from 'stripe';

/**
 * Usage events name the customer and carry the amount under these payload keys: the overage reporter sends them,
 * and the catalog sync sets up each meter to read them.
 */
export const METER_CUSTOMER_PAYLOAD_KEY = 'stripe_customer_id';
export const METER_VALUE_PAYLOAD_KEY = 'value';

/**
 * Whether `error` is Stripe's refusal of a meter event whose `identifier` it already holds: proof that an
 * earlier send of the same event landed.
 *
 * Stripe answers it with `400`, `type: invalid_request_error`, the message `An event already exists with
 * identifier <identifier>.`, `Stripe-Should-Retry: false`, and **no `code`** (as integrators recorded it from
 * the live API: langfuse/langfuse PR 16292; identifiers are unique for at least 24 hours:
 * https://docs.stripe.com/api/billing/meter-event/create). Everywhere else we branch on Stripe's type and code,
 * never on its text; here there is no code to branch on, so this is the one place where the message decides,
 * and only together with the status, the type, the absent code and our own identifier in it: any other
 * invalid request (a bad timestamp, an unknown meter) has a code or names no identifier of ours, and stays a
 * failure. Should Stripe reword it, the report stays pending and the stuck-report alert fires: never a
 * silent loss, never a double bill.
 */
export function isDuplicateMeterEvent(error: unknown, identifier: string): boolean {
  if (!(error instanceof Stripe.errors.StripeInvalidRequestError)) return false;
  return (
    error.statusCode === 400 &&
    error.rawType === 'invalid_request_error' &&
    !error.code &&
    error.message.trim() === `An event already exists with identifier ${identifier}.`
  );
}
