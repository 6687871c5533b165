/**
 * Invoice totals in integer cents. Stripe: `subtotal` is the sum of line amounts before discounts
 * and tax, `total` after them: total = subtotal − discounts (see `billing/discounts/amounts.ts`) + the exclusive
 * tax of the lines (inclusive tax is already inside them, see `billing/tax/invoice-tax.ts`);
 * `amount_due` = total minus credit applied from the customer's balance, never below 0
 * (https://docs.stripe.com/invoicing/customer/balance — a negative invoice total is credited to the
 * customer balance and `amount_due` is 0).
 */
import { assertCents } from './proration';

export interface InvoiceTotals {
  subtotal: number;
  total: number;
  /** Applied customer balance change: negative = credit consumed / granted. */
  startingBalance: number;
  endingBalance: number;
  amountDue: number;
}

/**
 * @param lineAmounts integer cents per line
 * @param customerBalance the customer's balance before the invoice (negative = credit the customer has)
 * @param discountTotal the invoice's discounts in cents (the sum of `total_discount_amounts`)
 * @param exclusiveTax integer cents of tax added on top of the lines (see `billing/tax/invoice-tax.ts`)
 */
export function invoiceTotals(
  lineAmounts: readonly number[],
  customerBalance = 0,
  discountTotal = 0,
  exclusiveTax = 0,
): InvoiceTotals {
  for (const a of lineAmounts) assertCents(a);
  assertCents(customerBalance);
  assertCents(discountTotal);
  assertCents(exclusiveTax);
  const subtotal = lineAmounts.reduce((s, a) => s + a, 0);
  const total = subtotal - discountTotal + exclusiveTax;
  const combined = total + customerBalance;
  const amountDue = Math.max(0, combined);
  const endingBalance = combined < 0 ? combined : 0;
  return { subtotal, total, startingBalance: customerBalance, endingBalance, amountDue };
}
