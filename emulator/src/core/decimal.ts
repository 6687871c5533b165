import type Stripe from 'stripe';

/**
 * Stripe sends `*_decimal` fields as JSON strings; the SDK types them as its `Decimal` class
 * because it converts them client-side. The emulator stores and sends the string.
 */
export function decimalString(value: string | number): Stripe.Decimal {
  return String(value) as unknown as Stripe.Decimal;
}
