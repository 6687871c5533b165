/**
 * One invoice line's tax, in integer minor units. Stripe Tax computes tax "for each line item"
 * (https://docs.stripe.com/tax/invoicing), so each line's tax is rounded on its own (half away from zero, to the
 * currency's minor unit) and the invoice's tax is the sum of the rounded line taxes.
 * - exclusive (the price excludes tax): tax = taxable × rate, added on top of the line;
 * - inclusive (the price includes tax): net = taxable ÷ (1 + rate), tax = taxable − net, inside the line.
 * The line's `taxes[].taxable_amount` is the amount tax is computed on (net of tax for inclusive prices).
 */
import type Stripe from 'stripe';
import type { Emulator } from '../../core/emulator';
import { createTaxRate } from '../../resources/tax-rates';
import { type Jurisdiction, percentOf } from './rate-table';

/** `numerator / denominator` rounded half away from zero; both integers, denominator > 0. */
export function divideRounded(numerator: number, denominator: number): number {
  const rounded = Math.floor((2 * Math.abs(numerator) + denominator) / (2 * denominator));
  // `0 - 0` is +0 (a negative numerator that rounds to nothing is no tax, not -0).
  return numerator < 0 ? 0 - rounded : rounded;
}

export interface LineTaxAmounts {
  tax: number;
  taxable: number;
}

export function lineTaxAmounts(
  taxable: number,
  basisPoints: number,
  behavior: 'exclusive' | 'inclusive',
): LineTaxAmounts {
  if (behavior === 'exclusive') return { tax: divideRounded(taxable * basisPoints, 10_000), taxable };
  const net = divideRounded(taxable * 10_000, 10_000 + basisPoints);
  return { tax: taxable - net, taxable: net };
}

interface JurisdictionRate {
  id: string;
  taxRate: string;
}

/** The store collection caching the rate object made for each jurisdiction/rate/behaviour. */
const JURISDICTION_RATE = '_tax_jurisdiction_rate';

/**
 * The tax rate object a line's `tax_rate_details.tax_rate` names: one per jurisdiction, rate and behaviour, made the
 * first time it is needed (inactive, as Stripe Tax's own rates are) and reused afterwards.
 */
export function jurisdictionTaxRate(
  emulator: Emulator,
  jurisdiction: Jurisdiction,
  basisPoints: number,
  inclusive: boolean,
): string {
  const key = `${jurisdiction.key}:${basisPoints}:${inclusive ? 'inclusive' : 'exclusive'}`;
  const cached = emulator.store.get(JURISDICTION_RATE, key);
  if (cached) return cached.taxRate;
  const rate = createTaxRate(
    emulator,
    {
      displayName: jurisdiction.displayName,
      percentage: percentOf(basisPoints),
      inclusive,
      active: false,
      country: jurisdiction.country,
      state: jurisdiction.state,
      jurisdiction: jurisdiction.name,
      jurisdictionLevel: jurisdiction.level,
      taxType: jurisdiction.taxType,
      description: null,
      metadata: {},
    },
    false,
  );
  emulator.store.put(JURISDICTION_RATE, { id: key, taxRate: rate.id });
  return rate.id;
}

export function lineTax(
  amounts: LineTaxAmounts,
  behavior: 'exclusive' | 'inclusive',
  reason: Stripe.InvoiceLineItem.Tax.TaxabilityReason,
  taxRate: string,
): Stripe.InvoiceLineItem.Tax {
  return {
    amount: amounts.tax,
    tax_behavior: behavior,
    tax_rate_details: { tax_rate: taxRate },
    taxability_reason: reason,
    taxable_amount: amounts.taxable,
    type: 'tax_rate_details',
  };
}

declare module '../../core/collections' {
  interface CollectionRecords {
    _tax_jurisdiction_rate: JurisdictionRate;
  }
}
