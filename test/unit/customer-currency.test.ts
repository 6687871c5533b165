import { CustomerCurrency } from '../../src/services/accounts/customer-currency';
import { loadPlanCatalog } from '../../src/services/plans/plan-catalog';

/** Which currency an account pays in, before anything is written (docs/billing-rules.md rows 53–54). */
describe('CustomerCurrency', () => {
  const currencies = new CustomerCurrency(loadPlanCatalog());
  const address = (country: string | null) => ({
    line1: null,
    line2: null,
    city: null,
    state: null,
    postalCode: null,
    country,
  });

  it('takes the kept currency, else the billing country (euro area: eur), else the base', () => {
    expect(currencies.of(null)).toBe('usd');
    expect(currencies.of({ currency: null, address: null })).toBe('usd');
    for (const country of ['DE', 'fr', 'AT', 'BG', 'HR']) {
      expect(currencies.of({ currency: null, address: address(country) })).toBe('eur');
    }
    for (const country of ['US', 'GB', 'CH', 'DK', 'SE', null]) {
      expect(currencies.of({ currency: null, address: address(country) })).toBe('usd');
    }
    expect(currencies.of({ currency: 'usd', address: address('DE') })).toBe('usd');
  });

  it('lets the first choice pick any currency of the catalog, in any case, and refuses a second one', () => {
    const fresh = { currency: null, address: address('DE') };
    expect(currencies.choose(fresh, ' USD ')).toBe('usd');
    expect(currencies.choose(fresh, null)).toBe('eur');
    expect(currencies.choose({ currency: 'eur', address: null }, 'eur')).toBe('eur');
    expect(currencies.choose({ currency: 'eur', address: address('US') }, undefined)).toBe('eur');
    expect(() => currencies.choose({ currency: 'eur', address: null }, 'usd')).toThrow(
      expect.objectContaining({
        extensions: { code: 'CURRENCY_MISMATCH', currency: 'eur', requested: 'usd' },
      }),
    );
    expect(() => currencies.choose(fresh, 'gbp')).toThrow(
      expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT', field: 'currency' } }),
    );
  });
});
