/**
 * THE EMULATOR'S FIXED TAX RATE TABLE: a stand-in for Stripe Tax's rate database, not a statement of any country's
 * law. Rates are whole basis points (1900 = 19 %) so money math stays in integers.
 *
 * Where the customer is: an address `isTaxLocation` accepts (a country; in the US a 5-digit postal code). Without
 * that, Stripe Tax cannot compute and the invoice's `automatic_tax.status` is `requires_location_inputs`.
 */
import { isTaxLocation } from '../../resources/tax-location';

export interface Jurisdiction {
  /** Stable key: the cache key of the tax rate object the emulator makes for it. */
  key: string;
  country: string;
  state: string | null;
  /** TaxRate `jurisdiction`, e.g. `DE`, `US - CA`. */
  name: string;
  level: 'country' | 'state';
  taxType: 'vat' | 'sales_tax';
  displayName: string;
  /** Basis points; 0 where the emulated seller does not collect. */
  basisPoints: number;
  collecting: boolean;
}

/** EU member states (reverse charge applies between two of them). */
export const EU_COUNTRIES = new Set(
  'AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK'.split(' '),
);

/** Countries the emulated seller collects VAT in, with the rate it charges. */
const VAT_BASIS_POINTS: Record<string, number> = {
  AT: 2000,
  BE: 2100,
  DE: 1900,
  ES: 2100,
  FR: 2000,
  GB: 2000,
  IE: 2300,
  IT: 2200,
  NL: 2100,
};

/** US states the emulated seller collects sales tax in (every other state: 0 %, `not_collecting`). */
const US_STATE_BASIS_POINTS: Record<string, number> = { CA: 725 };

/** California's ZIP codes (900xx–961xx) when the address names no state. */
function stateOfZip(postalCode: string): string | null {
  const prefix = Number(postalCode.slice(0, 3));
  return prefix >= 900 && prefix <= 961 ? 'CA' : null;
}

export interface Location {
  country?: string | null;
  state?: string | null;
  postal_code?: string | null;
}

function usJurisdiction(location: Location): Jurisdiction {
  const zip = (location.postal_code ?? '').trim();
  const state = (location.state ?? '').trim().toUpperCase() || stateOfZip(zip) || 'US';
  const basisPoints = US_STATE_BASIS_POINTS[state] ?? 0;
  return {
    key: `US-${state}`,
    country: 'US',
    state: state === 'US' ? null : state,
    name: state === 'US' ? 'US' : `US - ${state}`,
    level: state === 'US' ? 'country' : 'state',
    taxType: 'sales_tax',
    displayName: 'Sales Tax',
    basisPoints,
    collecting: basisPoints > 0,
  };
}

/** The jurisdiction of a customer's address, or null when the address is not enough to tax. */
export function jurisdictionOf(location: Location | null | undefined): Jurisdiction | null {
  if (!isTaxLocation(location)) return null;
  const country = (location?.country ?? '').trim().toUpperCase();
  if (country === 'US') return usJurisdiction(location ?? {});
  const basisPoints = VAT_BASIS_POINTS[country] ?? 0;
  return {
    key: country,
    country,
    state: null,
    name: country,
    level: 'country',
    taxType: 'vat',
    displayName: 'VAT',
    basisPoints,
    collecting: basisPoints > 0,
  };
}

/** Percent for a TaxRate's `percentage` (725 → 7.25). */
export function percentOf(basisPoints: number): number {
  return basisPoints / 100;
}
