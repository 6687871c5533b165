/**
 * What the emulator decides about a tax ID value: its format, its country and its verification.
 *
 * Formats follow the examples of Stripe's supported tax ID table (https://docs.stripe.com/billing/customer/tax-ids:
 * eu_vat `DE123456789`, `ATU12345678`, `FRAB123456789`; gb_vat `GB123456789`; us_ein `12-3456789`); other types are
 * accepted as given.
 *
 * Verification (the TaxId object's `verification.status`: pending | verified | unverified | unavailable): Stripe
 * checks eu_vat against the EU's VIES and gb_vat against HMRC (same page, "Validation"); other types are not
 * verified (`verification: null`). No government database is reachable here, so the result is a deterministic
 * EMULATOR RULE on the value's last nine characters (no documented Stripe test numbers were found to copy):
 * `111111111` → unverified, `222222222` → unavailable (the database did not answer), `333333333` → stays pending,
 * anything else → verified (so Stripe's own examples, `DE123456789`, verify).
 */
import type Stripe from 'stripe';

/** Types Stripe verifies against a government database. */
const VERIFIED_TYPES = new Set(['eu_vat', 'gb_vat']);

const FORMATS: Record<string, RegExp> = {
  eu_vat:
    /^(AT|BE|BG|CY|CZ|DE|DK|EE|EL|ES|FI|FR|HR|HU|IE|IT|LT|LU|LV|MT|NL|PL|PT|RO|SE|SI|SK|XI)[0-9A-Z]{8,12}$/,
  gb_vat: /^GB(\d{9}|\d{12})$/,
  us_ein: /^\d{2}-?\d{7}$/,
};

export function taxIdFormatIsValid(type: string, value: string): boolean {
  const format = FORMATS[type];
  return !format || format.test(value.replace(/\s/g, '').toUpperCase());
}

/**
 * The tax ID's `country`: an eu_vat number's prefix (Greece writes `EL`, Northern Ireland `XI`, both ISO `GR`/`GB`),
 * else the type's prefix (`gb_vat` → GB, `us_ein` → US).
 */
export function taxIdCountry(type: string, value: string): string {
  if (type === 'eu_vat') {
    const prefix = value.slice(0, 2).toUpperCase();
    if (prefix === 'EL') return 'GR';
    if (prefix === 'XI') return 'GB';
    return prefix;
  }
  return type.slice(0, 2).toUpperCase();
}

/** The verification a tax ID settles on (null for types Stripe does not verify). */
export function verificationFor(type: string, value: string): Stripe.TaxId.Verification | null {
  if (!VERIFIED_TYPES.has(type)) return null;
  const tail = value.replace(/\s/g, '').slice(-9);
  const status: Stripe.TaxId.Verification.Status =
    tail === '111111111'
      ? 'unverified'
      : tail === '222222222'
        ? 'unavailable'
        : tail === '333333333'
          ? 'pending'
          : 'verified';
  return { status, verified_address: null, verified_name: null };
}
