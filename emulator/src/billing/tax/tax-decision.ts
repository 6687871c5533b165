/**
 * Which tax a customer pays, decided once per invoice from the customer's address (`taxAddressOf`), `tax_exempt` and tax IDs
 * (https://docs.stripe.com/tax/invoicing: Stripe uses "the customer's tax settings and location").
 *
 * `taxability_reason` (https://docs.stripe.com/tax/zero-tax, "Zero tax amounts and reverse charges"):
 * - `standard_rated`: the table's rate applies;
 * - `not_collecting`: the seller is not registered there (0 %);
 * - `customer_exempt`: `tax_exempt=exempt`;
 * - `reverse_charge`: "Transactions between two businesses might be subject to reverse charge. In these cases, the
 *   buyer is responsible for accounting for the VAT": `tax_exempt=reverse`, or a business customer in another EU
 *   country than the seller's origin (or in GB, the seller outside it) with a VERIFIED VAT ID of that country
 *   (eu_vat / gb_vat; "Impact in Tax Calculation: Yes" in https://docs.stripe.com/billing/customer/tax-ids).
 */
import type Stripe from 'stripe';
import type { Emulator } from '../../core/emulator';
import { taxIdsOf } from '../../resources/tax-ids';
import { EU_COUNTRIES, type Jurisdiction, jurisdictionOf } from './rate-table';
import { taxAddressOf } from '../../resources/tax-location';
import { taxSettings } from './tax-settings';

export type TaxDecision =
  | { status: 'requires_location_inputs' }
  | {
      status: 'complete';
      jurisdiction: Jurisdiction;
      reason: Stripe.InvoiceLineItem.Tax.TaxabilityReason;
      /** Basis points actually charged (0 for the zero-tax reasons). */
      basisPoints: number;
    };

/** A verified VAT ID that makes a sale to `country` a reverse-charged business sale. */
function hasVerifiedVatId(taxIds: readonly Stripe.TaxId[], country: string): boolean {
  const vatType = country === 'GB' ? 'gb_vat' : 'eu_vat';
  return taxIds.some(
    (taxId) =>
      taxId.type === vatType && taxId.country === country && taxId.verification?.status === 'verified',
  );
}

function crossBorderBusinessSale(origin: string, country: string, taxIds: readonly Stripe.TaxId[]): boolean {
  if (country === origin) return false;
  const euToEu = EU_COUNTRIES.has(origin) && EU_COUNTRIES.has(country);
  const intoGb = country === 'GB';
  return (euToEu || intoGb) && hasVerifiedVatId(taxIds, country);
}

/** What the decision reads of a customer (a Checkout Session's collected address is one too). */
export type TaxedCustomer = Pick<Stripe.Customer, 'id' | 'address' | 'shipping' | 'tax_exempt'>;

/** `taxIds`: the customer's (default), or the ones a preview's `customer_details` gives. */
export function decideTax(
  emulator: Emulator,
  customer: TaxedCustomer,
  taxIds: readonly Stripe.TaxId[] = taxIdsOf(emulator, customer.id),
): TaxDecision {
  const jurisdiction = jurisdictionOf(taxAddressOf(customer).address);
  if (!jurisdiction) return { status: 'requires_location_inputs' };
  const zero = (reason: Stripe.InvoiceLineItem.Tax.TaxabilityReason): TaxDecision => ({
    status: 'complete',
    jurisdiction,
    reason,
    basisPoints: 0,
  });
  if (customer.tax_exempt === 'exempt') return zero('customer_exempt');
  if (customer.tax_exempt === 'reverse') return zero('reverse_charge');
  const origin = taxSettings(emulator).originCountry;
  if (crossBorderBusinessSale(origin, jurisdiction.country, taxIds)) return zero('reverse_charge');
  if (!jurisdiction.collecting) return zero('not_collecting');
  return {
    status: 'complete',
    jurisdiction,
    reason: 'standard_rated',
    basisPoints: jurisdiction.basisPoints,
  };
}
