import { TaxLocationRequiredError } from '../../src/errors';
import { isTaxLocation, TaxPolicy } from '../../src/services/tax/tax-policy';

const address = (country: string | null, postalCode: string | null = null) => ({
  line1: null,
  line2: null,
  city: null,
  state: null,
  postalCode,
  country,
});

describe('TaxPolicy', () => {
  it('adds nothing to any Stripe call when tax is off, and refuses no customer', () => {
    const off = new TaxPolicy(false);
    expect(off.automaticTax()).toEqual({});
    expect(off.checkout()).toEqual({});
    expect(off.customerUpdate()).toEqual({});
    expect(() => off.requireLocation(null)).not.toThrow();
  });

  it('asks for automatic tax, address and VAT ID collection and location checks when on', () => {
    const on = new TaxPolicy(true);
    expect(on.automaticTax()).toEqual({ automatic_tax: { enabled: true } });
    expect(on.checkout()).toEqual({
      automatic_tax: { enabled: true },
      billing_address_collection: 'required',
      tax_id_collection: { enabled: true },
      customer_update: { address: 'auto', name: 'auto' },
    });
    expect(on.customerUpdate()).toEqual({ tax: { validate_location: 'immediately' } });
    expect(() => on.requireLocation(null)).toThrow(TaxLocationRequiredError);
    expect(() => on.requireLocation(address('IE'))).not.toThrow();
  });

  it('places a customer by a country, and in the US only with a 5-digit ZIP (Stripe Tax’s rule)', () => {
    expect(isTaxLocation(address('DE'))).toBe(true);
    expect(isTaxLocation(address('ie'))).toBe(true);
    expect(isTaxLocation(address(null))).toBe(false);
    expect(isTaxLocation(address('US'))).toBe(false);
    expect(isTaxLocation(address('US', '9410'))).toBe(false);
    expect(isTaxLocation(address('US', '94103'))).toBe(true);
    expect(isTaxLocation(address('US', '94103-1234'))).toBe(true);
  });

  it('names updateCustomer(address) in its refusal, with a stable code', () => {
    const error = new TaxLocationRequiredError();
    expect(error.extensions.code).toBe('TAX_LOCATION_REQUIRED');
    expect(error.message).toContain('updateCustomer(input: { address })');
  });
});
