/**
 * What tax is computed on for one invoice line. Stripe's order on an invoice is line amounts → discounts → tax on
 * the discounted amount → total ("Stripe Tax calculates … for each line item", https://docs.stripe.com/tax/invoicing;
 * the line's `discount_amounts` are "the amount of discount calculated per discount for this line item", the
 * InvoiceLineItem object). The one place a line's discounts reach the tax computation.
 */
import type Stripe from 'stripe';

export function lineTaxableAmount(line: Stripe.InvoiceLineItem): number {
  const discounted = (line.discount_amounts ?? []).reduce((sum, d) => sum + d.amount, 0);
  return line.amount - discounted;
}
