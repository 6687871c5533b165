/**
 * The Customer object's `tax` field (returned only when expanded, `expand[]=tax`): where Stripe Tax places the
 * customer and whether it can tax them — `automatic_tax`: `supported` (a location the seller collects in),
 * `not_collecting` (a location it doesn't), `unrecognized_location` (not enough address: see `rate-table.ts`);
 * `location` from the address Stripe Tax uses (https://docs.stripe.com/tax/customer-locations, "Which customer
 * address we use": "your customer's shipping address if it's non-empty", else "your customer's billing address").
 */
import type Stripe from 'stripe';
import type { Emulator } from '../../core/emulator';
import { COLLECTIONS } from '../../core/collections';
import { taxAddressOf } from '../../resources/tax-location';
import { jurisdictionOf } from './rate-table';

type TaxedCustomer = Pick<Stripe.Customer, 'address' | 'shipping'>;

export function customerTax(customer: TaxedCustomer): Stripe.Customer.Tax {
  const { address, source } = taxAddressOf(customer);
  const jurisdiction = jurisdictionOf(address);
  return {
    automatic_tax: !jurisdiction
      ? 'unrecognized_location'
      : jurisdiction.collecting
        ? 'supported'
        : 'not_collecting',
    ip_address: null,
    location: jurisdiction ? { country: jurisdiction.country, source, state: jurisdiction.state } : null,
    provider: 'stripe',
  };
}

export function setup(emulator: Emulator): void {
  emulator.registerIncludable(COLLECTIONS.customer, 'tax', (customer) =>
    customerTax(customer as unknown as Stripe.Customer),
  );
}
