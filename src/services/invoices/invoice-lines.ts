import type Stripe from 'stripe';

/** One line of an invoice as a billing page shows it. Amounts in minor units of the invoice's currency. */
export interface InvoiceLineView {
  description: string;
  /** Units billed (the plan's quantity, or the period's metered usage); null for a line with none. */
  quantity: number | null;
  /** Price per unit in whole minor units, when it is one (null for a sub-cent price: see `unitAmountDecimal`). */
  unitAmount: number | null;
  /** Price per unit in minor units as Stripe's decimal string (`"0.5"` is half a cent), when the line has a price. */
  unitAmountDecimal: string | null;
  /** The line's amount before discounts and tax (Stripe's `amount`); negative for a credit (an unused-time proration). */
  amount: number;
  /** Σ of the line's discount amounts. */
  discountAmount: number;
  /** Σ of the line's tax amounts. */
  taxAmount: number;
  periodStart: Date;
  periodEnd: Date;
  proration: boolean;
}

/** What an invoice (issued or previewed) adds up to. */
export interface InvoiceFigures {
  currency: string;
  subtotal: number;
  /** Σ of the invoice's discounts (positive: what was taken off). */
  discount: number;
  /** Σ of the invoice's taxes. */
  tax: number;
  total: number;
  amountDue: number;
  lines: InvoiceLineView[];
}

/**
 * A line in this API version (2026-10-28.endive): the unit price is in `pricing.unit_amount_decimal` (a decimal
 * string on the wire, a `Decimal` in the SDK), the proration flag in `parent.*_details.proration`, discounts and
 * taxes in `discount_amounts` and `taxes` (https://docs.stripe.com/api/invoice-line-item/object).
 */
export function lineOf(line: Stripe.InvoiceLineItem): InvoiceLineView {
  const decimal = line.pricing?.unit_amount_decimal;
  const unitAmountDecimal = decimal === null || decimal === undefined ? null : String(decimal);
  const whole =
    unitAmountDecimal !== null && /^-?\d+$/.test(unitAmountDecimal) ? Number(unitAmountDecimal) : null;
  const details = line.parent?.subscription_item_details ?? line.parent?.invoice_item_details ?? null;
  return {
    description: line.description ?? '',
    quantity: line.quantity ?? null,
    unitAmount: whole,
    unitAmountDecimal,
    amount: line.amount,
    discountAmount: sum((line.discount_amounts ?? []).map((discount) => discount.amount)),
    taxAmount: sum((line.taxes ?? []).map((tax) => tax.amount)),
    periodStart: new Date(line.period.start * 1000),
    periodEnd: new Date(line.period.end * 1000),
    proration: details?.proration ?? false,
  };
}

/** The invoice's totals, with `lines` (all of them: the caller pages past Stripe's first ten). */
export function figuresOf(invoice: Stripe.Invoice, lines: readonly Stripe.InvoiceLineItem[]): InvoiceFigures {
  return {
    currency: invoice.currency,
    subtotal: invoice.subtotal,
    discount: sum((invoice.total_discount_amounts ?? []).map((discount) => discount.amount)),
    tax: sum((invoice.total_taxes ?? []).map((tax) => tax.amount)),
    total: invoice.total,
    amountDue: invoice.amount_due,
    lines: lines.map(lineOf),
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
