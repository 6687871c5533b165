/**
 * Tax from manual tax rates (https://docs.stripe.com/billing/taxes/tax-rates): a subscription's
 * `default_tax_rates` ("Invoices created will have their `default_tax_rates` populated from the subscription", the
 * Subscription object) apply to every line of its invoices. Each rate is computed on the line's amount after
 * discounts (net of inclusive tax when the rate is inclusive) and rounded per line, like automatic tax. A manual
 * rate carries no taxability determination: `taxability_reason` is `not_available` (emulator choice).
 */
import type Stripe from 'stripe';
import { divideRounded } from './line-tax';
import { lineTaxableAmount } from './taxable-amount';

const MILLION = 1_000_000;

/** The rate in parts per million (`percentage` has at most 4 decimals: 7.25 → 72 500). */
function ratePpm(rate: Stripe.TaxRate): number {
  return Math.round(rate.percentage * 10_000);
}

function tax(rate: Stripe.TaxRate, amount: number, taxable: number): Stripe.InvoiceLineItem.Tax {
  return {
    amount,
    tax_behavior: rate.inclusive ? 'inclusive' : 'exclusive',
    tax_rate_details: { tax_rate: rate.id },
    taxability_reason: 'not_available',
    taxable_amount: taxable,
    type: 'tax_rate_details',
  };
}

export function manualLineTaxes(
  line: Stripe.InvoiceLineItem,
  rates: readonly Stripe.TaxRate[],
): Stripe.InvoiceLineItem.Tax[] {
  const taxable = lineTaxableAmount(line);
  const inclusive = rates.filter((rate) => rate.inclusive);
  const inclusivePpm = inclusive.reduce((sum, rate) => sum + ratePpm(rate), 0);
  const net = inclusivePpm > 0 ? divideRounded(taxable * MILLION, MILLION + inclusivePpm) : taxable;
  // Inclusive taxes share `taxable - net` exactly; the last one takes the rounding remainder.
  let inclusiveLeft = taxable - net;
  return rates.map((rate) => {
    if (!rate.inclusive) return tax(rate, divideRounded(net * ratePpm(rate), MILLION), net);
    const isLast = rate === inclusive[inclusive.length - 1];
    const amount = isLast ? inclusiveLeft : divideRounded(net * ratePpm(rate), MILLION);
    inclusiveLeft -= amount;
    return tax(rate, amount, net);
  });
}
