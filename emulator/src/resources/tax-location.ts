/**
 * Whether an address is enough for Stripe Tax to place a customer (https://docs.stripe.com/tax/invoicing, "Set up
 * the customer": "Customers outside of the US require at least a country-level address. Customers in the US require
 * a 5-digit postal code"), and the customer's `tax[validate_location]=immediately`: "To validate customer addresses
 * during collection, set `tax[validate_location]="immediately"`" — an unrecognized location is a 400
 * `customer_tax_location_invalid` (https://docs.stripe.com/changelog/acacia/2024-10-28/tax-validate-location-auto).
 * The address taxed is the shipping address when set, else the billing address
 * (https://docs.stripe.com/tax/customer-locations).
 */
import type Stripe from 'stripe';
import { invalidRequest } from '../core/errors';
import type { ParamReader } from '../core/params';

export interface TaxLocation {
  country?: string | null;
  state?: string | null;
  postal_code?: string | null;
}

export function isTaxLocation(location: TaxLocation | null | undefined): boolean {
  const country = (location?.country ?? '').trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(country)) return false;
  return country !== 'US' || /^\d{5}(-\d{4})?$/.test((location?.postal_code ?? '').trim());
}

function isEmpty(address: Stripe.Address | null | undefined): boolean {
  return !address || Object.values(address).every((v) => v === null || v === undefined || v === '');
}

/** The address tax is computed from, and where it came from. */
export function taxAddressOf(customer: Pick<Stripe.Customer, 'address' | 'shipping'>): {
  address: Stripe.Address | null;
  source: 'shipping_destination' | 'billing_address';
} {
  const shipping = customer.shipping?.address;
  if (shipping && !isEmpty(shipping)) return { address: shipping, source: 'shipping_destination' };
  return { address: customer.address ?? null, source: 'billing_address' };
}

/** `tax[validate_location]=immediately` on create/update: 400 when the customer's tax address is not enough. */
export function validateTaxLocation(customer: Stripe.Customer, input: ParamReader): void {
  if (input.obj('tax')?.str('validate_location') !== 'immediately') return;
  const { address, source } = taxAddressOf(customer);
  if (isTaxLocation(address)) return;
  throw invalidRequest(
    "The customer's location isn't recognized: a country is required, and in the US a 5-digit postal code.",
    source === 'shipping_destination' ? 'shipping[address]' : 'address',
    'customer_tax_location_invalid',
  );
}
