/** The tax arithmetic on its own: integer minor units, rounded half away from zero, per line. */
import type Stripe from 'stripe';
import { divideRounded, lineTaxAmounts } from '../src/billing/tax/line-tax';
import { manualLineTaxes } from '../src/billing/tax/manual-tax';
import { jurisdictionOf } from '../src/billing/tax/rate-table';
import { lineTaxableAmount } from '../src/billing/tax/taxable-amount';

function line(amount: number, discounts: number[] = []): Stripe.InvoiceLineItem {
  return {
    amount,
    discount_amounts: discounts.map((d) => ({ amount: d, discount: 'di_x' })),
  } as Stripe.InvoiceLineItem;
}

function rate(id: string, percentage: number, inclusive: boolean): Stripe.TaxRate {
  return { id, percentage, inclusive } as Stripe.TaxRate;
}

describe('rounding', () => {
  it('rounds half away from zero, for credits too', () => {
    expect(divideRounded(5, 10)).toBe(1);
    expect(divideRounded(4, 10)).toBe(0);
    expect(divideRounded(-5, 10)).toBe(-1);
    expect(divideRounded(-4, 10)).toBe(0);
  });

  it('computes exclusive and inclusive line tax in basis points', () => {
    expect(lineTaxAmounts(5997, 1900, 'exclusive')).toEqual({ tax: 1139, taxable: 5997 });
    expect(lineTaxAmounts(5997, 725, 'exclusive')).toEqual({ tax: 435, taxable: 5997 });
    expect(lineTaxAmounts(3570, 1900, 'inclusive')).toEqual({ tax: 570, taxable: 3000 });
    // A proration credit carries a negative tax.
    expect(lineTaxAmounts(-1613, 1900, 'exclusive')).toEqual({ tax: -306, taxable: -1613 });
  });
});

describe('taxable amount', () => {
  it('is the line amount minus its discount amounts', () => {
    expect(lineTaxableAmount(line(1000))).toBe(1000);
    expect(lineTaxableAmount(line(1000, [200, 50]))).toBe(750);
  });
});

describe('manual rates', () => {
  it('computes several rates on the same net amount; inclusive ones share the included tax exactly', () => {
    const taxes = manualLineTaxes(line(1000), [rate('txr_a', 10, true), rate('txr_b', 5, true)]);
    // net = 1000 / 1.15 = 869.57 → 870; included tax 130 = 87 (10 %) + 43 (the rest).
    expect(taxes.map((t) => [t.amount, t.taxable_amount])).toEqual([
      [87, 870],
      [43, 870],
    ]);
    const mixed = manualLineTaxes(line(1000), [rate('txr_c', 8.875, false)]);
    expect(mixed[0]).toMatchObject({ amount: 89, taxable_amount: 1000, tax_behavior: 'exclusive' });
  });
});

describe('rate table locations', () => {
  it('needs a country, and a 5-digit ZIP in the US; CA by state or ZIP', () => {
    expect(jurisdictionOf({ country: 'DE' })).toMatchObject({ basisPoints: 1900, taxType: 'vat' });
    expect(jurisdictionOf({ country: 'US', state: 'CA' })).toBeNull();
    expect(jurisdictionOf({ country: 'US', postal_code: '90210' })).toMatchObject({
      key: 'US-CA',
      basisPoints: 725,
    });
    expect(jurisdictionOf({ country: 'US', postal_code: '10001' })).toMatchObject({ collecting: false });
    expect(jurisdictionOf({ country: 'JP' })).toMatchObject({ collecting: false, basisPoints: 0 });
    expect(jurisdictionOf(null)).toBeNull();
  });
});
