/** The discount arithmetic on its own: rounding and spreading, to the cent. */
import type Stripe from 'stripe';
import { couponShares, discountedAmountOf, percentOf, spread } from '../src/billing/discounts/amounts';

function coupon(fields: Partial<Stripe.Coupon>): Stripe.Coupon {
  return {
    id: 'C',
    object: 'coupon',
    amount_off: null,
    created: 0,
    currency: null,
    duration: 'forever',
    duration_in_months: null,
    livemode: false,
    max_redemptions: null,
    metadata: {},
    name: null,
    percent_off: null,
    redeem_by: null,
    times_redeemed: 0,
    valid: true,
    ...fields,
  };
}

describe('percentOf', () => {
  it('rounds once, half away from zero, credits alike', () => {
    expect(percentOf(1000, 25)).toBe(250);
    expect(percentOf(1, 50)).toBe(1);
    expect(percentOf(-1, 50)).toBe(-1);
    expect(percentOf(-500, 20)).toBe(-100);
    expect(percentOf(999, 12.5)).toBe(125); // 124.875
    expect(percentOf(333, 33.33)).toBe(111); // 110.9889
  });
});

describe('spread', () => {
  it('adds up exactly, leftover cents to the largest remainders, ties to the first', () => {
    expect(spread(750, [1000, 3000])).toEqual([188, 562]);
    expect(spread(100, [1, 1, 1])).toEqual([34, 33, 33]);
    expect(spread(10, [0, 5])).toEqual([0, 10]);
    expect(spread(7, [0, 0])).toEqual([0, 0]);
    const parts = spread(1001, [333, 333, 334, 1]);
    expect(parts.reduce((s, p) => s + p, 0)).toBe(1001);
  });
});

describe('couponShares', () => {
  const bases = [
    { amount: 1000, product: 'prod_a' },
    { amount: 3000, product: 'prod_b' },
    { amount: -200, product: 'prod_a' },
  ];

  it('percent off each positive line; amount off capped at what it applies to', () => {
    expect(couponShares(coupon({ percent_off: 10 }), 'usd', bases)).toEqual([100, 300, 0]);
    const flat = coupon({ amount_off: 5000, currency: 'usd' });
    expect(couponShares(flat, 'usd', bases)).toEqual([1000, 3000, 0]);
  });

  it('only the products in applies_to, only in a currency the coupon has', () => {
    const onlyA = coupon({ amount_off: 300, currency: 'usd', applies_to: { products: ['prod_a'] } });
    expect(couponShares(onlyA, 'usd', bases)).toEqual([300, 0, 0]);
    expect(couponShares(onlyA, 'eur', bases)).toEqual([0, 0, 0]);
    const withEuros = coupon({
      amount_off: 300,
      currency: 'usd',
      currency_options: { eur: { amount_off: 280 } },
    });
    expect(couponShares(withEuros, 'eur', bases)).toEqual([70, 210, 0]);
  });
});

it('discountedAmountOf: the line less its discount amounts', () => {
  expect(
    discountedAmountOf({
      amount: 2000,
      discount_amounts: [
        { amount: 500, discount: 'di_1' },
        { amount: 150, discount: 'di_2' },
      ],
    }),
  ).toBe(1350);
  expect(discountedAmountOf({ amount: 2000, discount_amounts: null })).toBe(2000);
});
